import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { PGlite } from "@electric-sql/pglite";
import postgres from "postgres";
import { clouddriverTableDdl, openDatabase, type Database } from "../../src/store/database.js";

/** The PostgreSQL the suite uses besides PGlite. */
export const POSTGRES_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** The two databases every storage and API test runs on. */
export const DATABASE_KINDS = ["pglite", "postgres"] as const;
export type DatabaseKind = (typeof DATABASE_KINDS)[number];

/** Every in-memory PGlite database is its own, so they can all use one schema name (the image's). */
const PGLITE_SCHEMA = "t_pglite";

const migrationsDir = join(fileURLToPath(import.meta.url), "../../../src/store/migrations");

/**
 * A migrated, empty PGlite data directory, made once per set of migrations and shared by every
 * test process through a file: starting PGlite from it takes a fraction of a fresh PGlite's
 * seconds-long initialisation. Named by the migrations' contents, so a changed migration makes a
 * new image; written under a temporary name and renamed, so parallel processes never read half of one.
 */
async function migratedPgliteImage(): Promise<Blob> {
  const hash = createHash("sha256");
  for (const file of readdirSync(migrationsDir, { recursive: true, withFileTypes: true }).filter((f) => f.isFile()).map((f) => join(f.parentPath, f.name)).sort()) {
    hash.update(file).update(readFileSync(file));
  }
  const path = join(tmpdir(), `agent-hub-pglite-${hash.digest("hex").slice(0, 16)}.tar`);
  if (!existsSync(path)) {
    const fresh = await openDatabase({ dataDir: "memory://", schema: PGLITE_SCHEMA });
    // drizzle keeps the PGlite client it was given.
    const image = await (fresh.db as unknown as { $client: PGlite }).$client.dumpDataDir("none");
    await fresh.close();
    const partial = `${path}.${process.pid}.${randomBytes(4).toString("hex")}`;
    writeFileSync(partial, Buffer.from(await image.arrayBuffer()));
    renameSync(partial, path);
  }
  return new Blob([readFileSync(path)]);
}

/** A fresh, empty database of its own: in-memory PGlite, or a new schema on PostgreSQL. */
export async function openTestDatabase(kind: DatabaseKind): Promise<Database & { dropSchema(): Promise<void> }> {
  const schema = `t_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
  if (kind === "pglite") {
    const db = await openDatabase({ dataDir: "memory://", schema: PGLITE_SCHEMA, pgliteImage: await migratedPgliteImage() });
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
