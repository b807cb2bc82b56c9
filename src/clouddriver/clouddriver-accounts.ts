import { sql, type SQL } from "drizzle-orm";
import type { Db } from "../store/database.js";
import { queryRows } from "../store/query-rows.js";

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

/** Clouddriver's table, qualified by its schema ("" = the connection's search path). */
export function clouddriverTable(schema: string): SQL {
  return schema === "" ? sql`${sql.identifier("accounts")}` : sql`${sql.identifier(schema)}.${sql.identifier("accounts")}`;
}

/**
 * Reads Clouddriver's `accounts` table. It never writes it: Clouddriver owns that table. Where the
 * table does not exist (a hub without Clouddriver, on PostgreSQL) it reads as empty.
 */
export interface ClouddriverAccounts {
  /** The rows whose `id` is one of `names`, by name. */
  findByNames(names: readonly string[]): Promise<Map<string, ClouddriverAccount>>;
  findByName(name: string): Promise<ClouddriverAccount | undefined>;
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
  return {
    async findByNames(names) {
      const found = new Map<string, ClouddriverAccount>();
      if (names.length === 0 || !(await tableExists())) return found;
      const rows = await queryRows<RawRow>(
        executor,
        sql`${select} WHERE id IN (SELECT jsonb_array_elements_text(${JSON.stringify(names)}::jsonb))`,
      );
      for (const row of rows) found.set(row.id, toAccount(row));
      return found;
    },

    async findByName(name) {
      if (!(await tableExists())) return undefined;
      const [row] = await queryRows<RawRow>(executor, sql`${select} WHERE id = ${name}`);
      return row === undefined ? undefined : toAccount(row);
    },
  };
}
