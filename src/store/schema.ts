import { sql } from "drizzle-orm";
import { parseAccountSource, parseAccountStatus, type AccountSource, type AccountStatus } from "../model/account-states.js";
import { bigint, bigserial, boolean, customType, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

/** Text compared byte by byte, so that the primary key index also serves `ORDER BY name`. */
const byteText = customType<{ data: string }>({ dataType: () => 'text COLLATE "C"' });

/**
 * Text columns that hold one of the account states or sources: every row read through drizzle is
 * checked here, at the database boundary, so that the rest of the code can trust the union types.
 */
const statusText = customType<{ data: AccountStatus; driverData: string }>({ dataType: () => "text", fromDriver: parseAccountStatus });
const sourceText = customType<{ data: AccountSource; driverData: string }>({ dataType: () => "text", fromDriver: parseAccountSource });

/** Hub-stored and static accounts (design section 3). `name` sorts in byte order. */
export const accounts = pgTable(
  "kubesvc_accounts",
  {
    name: byteText("name").primaryKey(),
    /** `clouddriver` | `static-agent-config`. */
    source: sourceText("source").notNull(),
    /** `migrated` | `created` | `autoscan` | `interceptor` | `static`. */
    origin: text("origin").notNull(),
    type: text("type").notNull().default("kubernetes"),
    status: statusText("status").notNull(),
    zoneId: text("zone_id"),
    definition: jsonb("definition").$type<Record<string, unknown>>().notNull(),
    agentDefinition: jsonb("agent_definition").$type<Record<string, unknown>>(),
    lastAssignmentMsg: text("last_assignment_msg").notNull().default(""),
    failedCount: integer("failed_count").notNull().default(0),
    clouddriverLastModified: bigint("clouddriver_last_modified", { mode: "number" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    version: integer("version").notNull().default(1),
  },
  // The list filters (design section 16) read a page in name order within a status, zone or
  // source; name last, so the index gives the page's order without a sort.
  (t) => [
    index("kubesvc_accounts_status_name_idx").on(t.status, t.name),
    index("kubesvc_accounts_zone_name_idx").on(t.zoneId, t.name),
    index("kubesvc_accounts_source_name_idx").on(t.source, t.name),
  ],
);

/** Which agent holds which account, with its role. */
export const assignments = pgTable(
  "kubesvc_assignments",
  {
    accountName: text("account_name").notNull(),
    agentId: text("agent_id").notNull(),
    hubId: text("hub_id").notNull(),
    caching: boolean("caching").notNull().default(false),
    reachable: boolean("reachable").notNull().default(true),
    assignedAt: timestamp("assigned_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.accountName, t.agentId] }),
    index("kubesvc_assignments_agent_idx").on(t.agentId),
    // The database itself forbids two caching holders of one account, whichever replica writes.
    uniqueIndex("kubesvc_assignments_one_caching").on(t.accountName).where(sql`${t.caching}`),
  ],
);

/** Connected agents. */
export const agents = pgTable("kubesvc_agents", {
  agentId: text("agent_id").primaryKey(),
  zoneId: text("zone_id").notNull().default(""),
  hubId: text("hub_id").notNull(),
  connectedAt: timestamp("connected_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  lastHeartbeat: timestamp("last_heartbeat", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  version: text("version").notNull().default(""),
  labels: jsonb("labels").$type<Record<string, string>>().notNull().default({}),
});

/** Hub replicas and their leases (design section 11). */
export const hubs = pgTable("kubesvc_hubs", {
  hubId: text("hub_id").primaryKey(),
  address: text("address").notNull().default(""),
  startedAt: timestamp("started_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  lastHeartbeat: timestamp("last_heartbeat", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
});

/**
 * Work for an agent whose stream another replica holds (design section 11): a durable row per
 * message, addressed to the replica; `NOTIFY hub_<id>` wakes it, a periodic sweep catches what a
 * missed notification would leave behind. The owner deletes a row when it takes it.
 */
export const hubMessages = pgTable(
  "kubesvc_hub_messages",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    hubId: text("hub_id").notNull(),
    agentId: text("agent_id").notNull().default(""),
    payload: jsonb("payload").$type<Record<string, unknown>>().notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [index("kubesvc_hub_messages_hub_idx").on(t.hubId, t.id)],
);

/**
 * Audit history of accounts (design section 14): one row per accepted change, appended in the
 * change's own transaction by statement triggers on `kubesvc_accounts` (migration account_events_triggers). `fields`
 * maps the definition fields that changed to their new values, secrets redacted as in REST.
 */
export const accountEvents = pgTable(
  "kubesvc_account_events",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    accountName: byteText("account_name").notNull(),
    at: timestamp("at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    /** A credential name, `anonymous` (auth off), `autoscan` or `hub`. */
    actor: text("actor").notNull(),
    /** `create` | `migrate` | `register` | `update` | `status` | `delete`. */
    action: text("action").notNull(),
    /** The account's status after the change (`DELETED` once its row is gone). */
    status: text("status").notNull(),
    zoneId: text("zone_id"),
    fields: jsonb("fields").$type<Record<string, unknown>>().notNull().default({}),
  },
  (t) => [index("kubesvc_account_events_account_idx").on(t.accountName, t.id), index("kubesvc_account_events_at_idx").on(t.at)],
);

/**
 * The credential each agent id last connected with (design section 14): a stream may replace the
 * stream of a connected agent, on any replica, only under the same credential name.
 */
export const agentCredentials = pgTable("kubesvc_agent_credentials", {
  agentId: text("agent_id").primaryKey(),
  credential: text("credential").notNull(),
  updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
});
