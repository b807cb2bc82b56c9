import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { clouddriverTableDdl, openDatabase, type Database } from "../../src/store/database.js";

/** The PostgreSQL the suite uses besides PGlite. */
export const POSTGRES_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** The two databases every storage and API test runs on. */
export const DATABASE_KINDS = ["pglite", "postgres"] as const;
export type DatabaseKind = (typeof DATABASE_KINDS)[number];

/** A fresh, empty database of its own: in-memory PGlite, or a new schema on PostgreSQL. */
export async function openTestDatabase(kind: DatabaseKind): Promise<Database & { dropSchema(): Promise<void> }> {
  const schema = `t_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
  if (kind === "pglite") {
    const db = await openDatabase({ dataDir: "memory://", schema });
    return { ...db, dropSchema: async () => {} };
  }
  const db = await openDatabase({ url: POSTGRES_URL, schema, maxConnections: 4 });
  // Clouddriver's table: on PostgreSQL the hub never creates it, so the test plays Clouddriver.
  const admin = postgres(POSTGRES_URL, { max: 1, onnotice: () => {}, connection: { search_path: schema } });
  await admin.unsafe(clouddriverTableDdl(""));
  await admin.end();
  return {
    ...db,
    async dropSchema() {
      const sql = postgres(POSTGRES_URL, { max: 1, onnotice: () => {} });
      await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await sql.end();
    },
  };
}
