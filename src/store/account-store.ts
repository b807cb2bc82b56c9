import { and, asc, eq, sql, type SQL } from "drizzle-orm";
import type { Db } from "./database.js";
import { queryRows } from "./query-rows.js";
import type { AccountSource, AccountStatus } from "../model/account-states.js";
import { accounts, agents, assignments } from "./schema.js";

/** A row of `kubesvc_accounts`. */
export type AccountRow = typeof accounts.$inferSelect;

/** The columns an API call sets when it creates an account. */
export interface NewAccount {
  name: string;
  source: AccountSource;
  origin: string;
  status: AccountStatus;
  zoneId: string | null;
  definition: Record<string, unknown>;
  agentDefinition: Record<string, unknown> | null;
  clouddriverLastModified: number | null;
}

/**
 * The new state of an account that an API call changes, guarded by what the call read: the
 * update only applies when `version` and `status` are still what they were (optimistic
 * concurrency, design section 3).
 */
export interface AccountUpdate {
  name: string;
  expectedVersion: number;
  expectedStatus: AccountStatus;
  status: AccountStatus;
  zoneId: string | null;
  definition: Record<string, unknown>;
  agentDefinition: Record<string, unknown> | null;
  failedCount: number;
  /** Replaces `last_assignment_msg` when given; kept otherwise. */
  lastAssignmentMsg?: string;
  /** Replaces `clouddriver_last_modified` when given (null included); kept otherwise. */
  clouddriverLastModified?: number | null;
}

/** An agent that holds an account. */
export interface Holder {
  agentId: string;
  caching: boolean;
}

/** A connected agent with how many accounts it holds and caches. */
export interface AgentSummary {
  agentId: string;
  zoneId: string;
  hubId: string;
  accounts: number;
  caching: number;
  connectedAt: Date;
  lastHeartbeat: Date;
  /** From the agent's hello. */
  version: string;
  labels: Record<string, string>;
}

/** Some accounts changed between reading and writing them; the whole transaction must be retried. */
export class StaleAccountsError extends Error {
  override name = "StaleAccountsError";
  constructor(readonly names: string[]) {
    super(`accounts changed concurrently: ${names.join(", ")}`);
  }
}

/** Rows per INSERT, well below PostgreSQL's 65,535 bind parameters. */
const INSERT_CHUNK = 1000;

/** `column IN (names)` with one bind parameter however many names there are. */
export function nameIn(column: typeof accounts.name | typeof assignments.accountName, names: readonly string[]): SQL {
  return sql`${column} IN (SELECT jsonb_array_elements_text(${JSON.stringify(names)}::jsonb))`;
}

/** Queries on the hub's account tables, on a database or inside a transaction. */
export interface AccountStore {
  /** The rows of the given names that exist (any order). */
  findByNames(names: readonly string[]): Promise<AccountRow[]>;
  findByName(name: string): Promise<AccountRow | undefined>;
  /**
   * One page of the accounts that meet every condition (all accounts when none), in byte order of
   * their names, and how many meet them.
   */
  listPage(offset: number, limit: number, conditions?: readonly SQL[]): Promise<{ rows: AccountRow[]; total: number }>;
  /** The reachable holders of each named account, sorted by agent id. */
  holdersOf(names: readonly string[]): Promise<Map<string, Holder[]>>;
  /** Inserts accounts whose names are free and returns the names it inserted. */
  insertNew(rows: readonly NewAccount[]): Promise<string[]>;
  /**
   * Applies the updates in one statement, bumping `version`. Throws StaleAccountsError, naming
   * them, when some rows no longer have the version and status the caller read.
   */
  applyUpdates(updates: readonly AccountUpdate[]): Promise<void>;
  /** Connected agents sorted by id (those of one zone when given), with counts of their reachable assignments. */
  listAgents(zoneId?: string): Promise<AgentSummary[]>;
}

/** Binds the account queries to `executor` (the database, or a transaction on it). */
export function createAccountStore(executor: Db): AccountStore {
  return {
    async findByNames(names) {
      if (names.length === 0) return [];
      return executor.select().from(accounts).where(nameIn(accounts.name, names));
    },

    async findByName(name) {
      const [row] = await executor.select().from(accounts).where(eq(accounts.name, name));
      return row;
    },

    async listPage(offset, limit, conditions = []) {
      const where = and(...conditions);
      // A filtered set is counted; all accounts are counted by triggers (migration 0001), since
      // counting 100,000 rows per page cost more than the page. Both run at once where the pool allows.
      const [rows, total] = await Promise.all([
        executor.select().from(accounts).where(where).orderBy(asc(accounts.name)).limit(limit).offset(offset),
        where === undefined
          ? queryRows<{ total: string }>(executor, sql`SELECT total::text AS total FROM kubesvc_account_count WHERE id = 1`).then(([c]) => Number(c?.total ?? 0))
          : executor
              .select({ total: sql<number>`count(*)::int`.mapWith(Number) })
              .from(accounts)
              .where(where)
              .then(([c]) => c?.total ?? 0),
      ]);
      return { rows, total };
    },

    async holdersOf(names) {
      const holders = new Map<string, Holder[]>();
      if (names.length === 0) return holders;
      const rows = await executor
        .select({ accountName: assignments.accountName, agentId: assignments.agentId, caching: assignments.caching })
        .from(assignments)
        .where(and(nameIn(assignments.accountName, names), eq(assignments.reachable, true)))
        .orderBy(sql`${assignments.agentId} COLLATE "C"`);
      for (const row of rows) {
        const list = holders.get(row.accountName) ?? [];
        list.push({ agentId: row.agentId, caching: row.caching });
        holders.set(row.accountName, list);
      }
      return holders;
    },

    async insertNew(rows) {
      const inserted: string[] = [];
      for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
        const chunk = rows.slice(i, i + INSERT_CHUNK);
        const done = await executor
          .insert(accounts)
          .values(chunk.map((r) => ({ ...r, type: "kubernetes" })))
          .onConflictDoNothing({ target: accounts.name })
          .returning({ name: accounts.name });
        inserted.push(...done.map((d) => d.name));
      }
      return inserted;
    },

    async applyUpdates(updates) {
      if (updates.length === 0) return;
      const records = updates.map((u) => ({
        name: u.name,
        expected_version: u.expectedVersion,
        expected_status: u.expectedStatus,
        status: u.status,
        zone_id: u.zoneId,
        definition: u.definition,
        agent_definition: u.agentDefinition,
        failed_count: u.failedCount,
        set_message: u.lastAssignmentMsg !== undefined,
        message: u.lastAssignmentMsg ?? null,
        set_last_modified: u.clouddriverLastModified !== undefined,
        last_modified: u.clouddriverLastModified ?? null,
      }));
      const done = await queryRows<{ name: string }>(
        executor,
        sql`UPDATE ${accounts} SET
              status = u.status,
              zone_id = u.zone_id,
              definition = u.definition,
              agent_definition = u.agent_definition,
              failed_count = u.failed_count,
              last_assignment_msg = CASE WHEN u.set_message THEN u.message ELSE ${accounts.lastAssignmentMsg} END,
              clouddriver_last_modified = CASE WHEN u.set_last_modified THEN u.last_modified ELSE ${accounts.clouddriverLastModified} END,
              version = ${accounts.version} + 1,
              updated_at = now()
            FROM jsonb_to_recordset(${JSON.stringify(records)}::jsonb) AS u(
              name text, expected_version integer, expected_status text, status text, zone_id text,
              definition jsonb, agent_definition jsonb, failed_count integer,
              set_message boolean, message text, set_last_modified boolean, last_modified bigint)
            WHERE ${accounts.name} = u.name AND ${accounts.version} = u.expected_version
              AND ${accounts.status} = u.expected_status
            RETURNING ${accounts.name} AS name`,
      );
      if (done.length === updates.length) return;
      const applied = new Set(done.map((d) => d.name));
      throw new StaleAccountsError(updates.map((u) => u.name).filter((n) => !applied.has(n)));
    },

    async listAgents(zoneId) {
      return executor
        .select({
          agentId: agents.agentId,
          zoneId: agents.zoneId,
          hubId: agents.hubId,
          accounts: sql<number>`count(${assignments.accountName})::int`.mapWith(Number),
          caching: sql<number>`count(*) FILTER (WHERE ${assignments.caching})::int`.mapWith(Number),
          connectedAt: agents.connectedAt,
          lastHeartbeat: agents.lastHeartbeat,
          version: agents.version,
          labels: agents.labels,
        })
        .from(agents)
        .leftJoin(assignments, and(eq(assignments.agentId, agents.agentId), eq(assignments.reachable, true)))
        .where(zoneId === undefined ? undefined : eq(agents.zoneId, zoneId))
        .groupBy(agents.agentId)
        .orderBy(sql`${agents.agentId} COLLATE "C"`);
    },
  };
}
