import { sql, type SQL } from "drizzle-orm";
import type { Db } from "./database.js";
import { queryRows } from "./query-rows.js";
import { likePatterns } from "./name-patterns.js";

/** A row of Clouddriver's `accounts` table (clouddriver-sql), as the hub reads it. */
export interface ClouddriverAccount {
  /** The account name (`accounts.id`). */
  name: string;
  type: string;
  /** The account definition; `{}` when the stored body is not a JSON object. */
  body: Record<string, unknown>;
  /** `last_modified_at`, milliseconds since the epoch. */
  lastModifiedAt: number;
}

/** A row's identity and age, without its body: what autoscan compares on every tick. */
export interface ClouddriverStamp {
  name: string;
  type: string;
  /** `last_modified_at`, milliseconds since the epoch. */
  lastModifiedAt: number;
}

/** Clouddriver's type for accounts an operator hands to agents (seed 000). */
const AGENT_TYPE = "kubernetes:agent";
/** Clouddriver's type for Kubernetes accounts; autoscan takes those whose name matches a pattern. */
export const KUBERNETES_TYPE = "kubernetes";

/** The table's name as messages show it: `"clouddriver.accounts"`, or `"accounts"` on the search path. */
export function clouddriverTableLabel(schema: string): string {
  return schema === "" ? '"accounts"' : `"${schema}.accounts"`;
}

/** Clouddriver's table, qualified by its schema ("" = the connection's search path). */
export function clouddriverTable(schema: string): SQL {
  return schema === "" ? sql`${sql.identifier("accounts")}` : sql`${sql.identifier(schema)}.${sql.identifier("accounts")}`;
}

/**
 * Reads Clouddriver's `accounts` table. It never writes it: Clouddriver owns that table. Where the
 * table does not exist (a hub without Clouddriver, on PostgreSQL) it reads as empty; callers for
 * which that would be wrong (migrate, autoscan) ask `exists()` first.
 */
export interface ClouddriverAccounts {
  /** Whether the table exists. */
  exists(): Promise<boolean>;
  /** The rows whose `id` is one of `names`, by name. */
  findByNames(names: readonly string[]): Promise<Map<string, ClouddriverAccount>>;
  findByName(name: string): Promise<ClouddriverAccount | undefined>;
  /** Which of `names` have a row, whatever its type. */
  presentNames(names: readonly string[]): Promise<Set<string>>;
  /**
   * The rows handed to agents (design section 10), in byte order of names: type
   * `kubernetes:agent`, or type `kubernetes` with a name matching one of `namePatterns`.
   */
  listHandedToAgents(namePatterns: readonly string[]): Promise<ClouddriverStamp[]>;
}

interface RawRow extends Record<string, unknown> {
  id: string;
  type: string;
  body: string;
  last_modified_at: string;
}

function toAccount(row: RawRow): ClouddriverAccount {
  const body: unknown = JSON.parse(row.body);
  const isObject = body !== null && typeof body === "object" && !Array.isArray(body);
  return {
    name: row.id,
    type: row.type,
    body: isObject ? (body as Record<string, unknown>) : {},
    lastModifiedAt: Number(row.last_modified_at),
  };
}

/** Binds the reader to `executor` (the database or a transaction) and Clouddriver's schema. */
export function createClouddriverAccounts(executor: Db, schema: string): ClouddriverAccounts {
  const table = clouddriverTable(schema);
  const regclass = schema === "" ? "accounts" : `"${schema.replace(/"/g, '""')}".accounts`;
  // Checked first: inside a transaction, a query on a missing table would abort the transaction.
  const tableExists = async () => {
    const [row] = await queryRows<{ found: boolean }>(executor, sql`SELECT to_regclass(${regclass}) IS NOT NULL AS found`);
    return row?.found === true;
  };
  // Casts to text: the drivers disagree on how they return jsonb and bigint.
  const select = sql`SELECT id, type, body::text AS body, last_modified_at::text AS last_modified_at FROM ${table}`;
  const idIn = (names: readonly string[]) => sql`id IN (SELECT jsonb_array_elements_text(${JSON.stringify(names)}::jsonb))`;
  return {
    exists: tableExists,

    async findByNames(names) {
      const found = new Map<string, ClouddriverAccount>();
      if (names.length === 0 || !(await tableExists())) return found;
      const rows = await queryRows<RawRow>(
        executor,
        sql`${select} WHERE ${idIn(names)}`,
      );
      for (const row of rows) found.set(row.id, toAccount(row));
      return found;
    },

    async findByName(name) {
      if (!(await tableExists())) return undefined;
      const [row] = await queryRows<RawRow>(executor, sql`${select} WHERE id = ${name}`);
      return row === undefined ? undefined : toAccount(row);
    },

    async presentNames(names) {
      if (names.length === 0 || !(await tableExists())) return new Set();
      const rows = await queryRows<{ id: string }>(executor, sql`SELECT id FROM ${table} WHERE ${idIn(names)}`);
      return new Set(rows.map((r) => r.id));
    },

    async listHandedToAgents(namePatterns) {
      if (!(await tableExists())) return [];
      const likes = likePatterns(namePatterns);
      const matching =
        likes.length === 0
          ? sql`FALSE`
          : sql`(type = ${KUBERNETES_TYPE} AND id LIKE ANY (SELECT jsonb_array_elements_text(${JSON.stringify(likes)}::jsonb)))`;
      const rows = await queryRows<{ id: string; type: string; last_modified_at: string }>(
        executor,
        sql`SELECT id, type, last_modified_at::text AS last_modified_at FROM ${table}
            WHERE type = ${AGENT_TYPE} OR ${matching}
            ORDER BY id COLLATE "C"`,
      );
      return rows.map((r) => ({ name: r.id, type: r.type, lastModifiedAt: Number(r.last_modified_at) }));
    },
  };
}
