import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import type { Database } from "../../src/store/database.js";
import { clouddriverTableDdl } from "../../src/store/database.js";
import { queryRows } from "../../src/store/query-rows.js";
import { POSTGRES_URL } from "../support/databases.js";

/** The session setting that lets this test (playing Clouddriver) write the guarded table. */
const WRITER_SETTING = "agent_hub_test.clouddriver_writer";

/** A row of Clouddriver's table, every column as text. */
export type SnapshotRow = Record<string, unknown>;

/**
 * Clouddriver's `accounts` table in a schema of its own (as `clouddriver.schema` points at in a
 * real deployment), written by the test as Clouddriver would write it.
 */
export interface ClouddriverTable {
  schema: string;
  /** Inserts or replaces a row; `last_modified_at` goes up by one second with every write. Returns it. */
  put(name: string, body: Record<string, unknown>, type?: string): Promise<number>;
  remove(name: string): Promise<void>;
  /** Every row, every column as text, in id order. */
  snapshot(): Promise<SnapshotRow[]>;
  /**
   * From now on, a write by anyone but this helper is recorded and skipped (a row trigger), so a
   * hub write shows up in `writeAttempts` even where the hub would swallow the error of a refused one.
   */
  guard(): Promise<void>;
  /** The writes the guard stopped, e.g. `[{op: "UPDATE", id: "a"}]`. */
  writeAttempts(): Promise<{ op: string; id: string }[]>;
  /** Drops the schema (PostgreSQL; PGlite goes with its in-memory database). */
  drop(): Promise<void>;
}

/** A schema name no other test uses. */
export function uniqueSchema(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
}

/** Creates Clouddriver's table in `schema` (as Clouddriver would) on the test's database. */
export async function createClouddriverTable(database: Database, schema: string): Promise<ClouddriverTable> {
  const q = (name: string) => sql.identifier(name);
  // One statement per call: PGlite's extended protocol takes one at a time.
  for (const statement of clouddriverTableDdl(schema).split(";\n")) await database.db.execute(sql.raw(statement));
  let lastModified = Date.now();

  const asClouddriver = (statement: ReturnType<typeof sql>) =>
    database.db.transaction(async (tx) => {
      await tx.execute(sql`SELECT set_config(${WRITER_SETTING}, 'on', true)`);
      await tx.execute(statement);
    });

  return {
    schema,
    async put(name, body, type = "kubernetes") {
      lastModified += 1_000;
      const full = { name, type, ...body };
      await asClouddriver(sql`
        INSERT INTO ${q(schema)}.accounts (id, type, body, created_at, last_modified_at, last_modified_by)
        VALUES (${name}, ${type}, ${JSON.stringify(full)}::jsonb, ${lastModified}, ${lastModified}, 'clouddriver-test')
        ON CONFLICT (id) DO UPDATE SET type = EXCLUDED.type, body = EXCLUDED.body,
          last_modified_at = EXCLUDED.last_modified_at, last_modified_by = EXCLUDED.last_modified_by`);
      return lastModified;
    },
    async remove(name) {
      await asClouddriver(sql`DELETE FROM ${q(schema)}.accounts WHERE id = ${name}`);
    },
    snapshot() {
      return queryRows(
        database.db,
        sql`SELECT id, type, body::text AS body, created_at::text AS created_at, last_modified_at::text AS last_modified_at, last_modified_by
            FROM ${q(schema)}.accounts ORDER BY id COLLATE "C"`,
      );
    },
    async guard() {
      await database.db.execute(
        sql.raw(`CREATE TABLE "${schema}".write_attempts (op text NOT NULL, id text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`),
      );
      await database.db.execute(
        sql.raw(`
        CREATE FUNCTION "${schema}".refuse_hub_writes() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF current_setting('${WRITER_SETTING}', true) IS DISTINCT FROM 'on' THEN
            INSERT INTO "${schema}".write_attempts (op, id) VALUES (TG_OP, CASE WHEN TG_OP = 'INSERT' THEN NEW.id ELSE OLD.id END);
            RETURN NULL;
          END IF;
          IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
          RETURN NEW;
        END $$`),
      );
      await database.db.execute(
        sql.raw(`
        CREATE TRIGGER refuse_hub_writes BEFORE INSERT OR UPDATE OR DELETE ON "${schema}".accounts
          FOR EACH ROW EXECUTE FUNCTION "${schema}".refuse_hub_writes();`),
      );
    },
    writeAttempts() {
      return queryRows<{ op: string; id: string }>(database.db, sql`SELECT op, id FROM ${q(schema)}.write_attempts ORDER BY at`);
    },
    async drop() {
      if (database.kind !== "postgres") return;
      const admin = postgres(POSTGRES_URL, { max: 1, onnotice: () => {} });
      try {
        await admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await admin.end();
      }
    },
  };
}
