import { sql } from "drizzle-orm";
import type { Database } from "../store/database.js";
import { clouddriverTable } from "../store/clouddriver-accounts.js";

/** An account to put into Clouddriver's table for a try-out. */
export interface SeedAccount {
  name: string;
  /** Clouddriver's account type; `kubernetes` when omitted. */
  type?: string;
  /** The account definition; `name` and `type` are added when it lacks them, as Clouddriver stores them. */
  body: Record<string, unknown>;
}

/**
 * Inserts (or replaces) one row of Clouddriver's `accounts` table, so that migration can be tried
 * on the embedded database without a Clouddriver. This is the only code that writes that table;
 * the hub itself only reads it. `schema` is `clouddriver.schema` ("" = the search path).
 */
export async function insertClouddriverAccount(database: Database, schema: string, account: SeedAccount): Promise<void> {
  const type = account.type ?? "kubernetes";
  const body = { name: account.name, type, ...account.body };
  const now = Date.now();
  await database.db.execute(
    sql`INSERT INTO ${clouddriverTable(schema)} (id, type, body, created_at, last_modified_at, last_modified_by)
        VALUES (${account.name}, ${type}, ${JSON.stringify(body)}::jsonb, ${now}, ${now}, 'agent-hub-seed')
        ON CONFLICT (id) DO UPDATE SET type = EXCLUDED.type, body = EXCLUDED.body,
          last_modified_at = EXCLUDED.last_modified_at, last_modified_by = EXCLUDED.last_modified_by`,
  );
}
