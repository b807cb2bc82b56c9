import { randomBytes } from "node:crypto";
import postgres from "postgres";

/** The PostgreSQL the benchmarks run on (the headline); the same default as the test suite. */
export const BENCH_POSTGRES_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** Hub configuration for a benchmark database, and how to drop it afterwards. */
export interface BenchDatabase {
  kind: "postgres" | "pglite";
  /** Keys for the local hub's configuration. */
  overrides: Record<string, string>;
  drop(): Promise<void>;
}

/** A fresh schema on PostgreSQL (dropped afterwards), or in-memory PGlite. */
export function benchDatabase(kind: "postgres" | "pglite"): BenchDatabase {
  if (kind === "pglite") return { kind, overrides: { databaseUrl: "", dataDir: "memory://" }, drop: async () => {} };
  const schema = `bench_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
  return {
    kind,
    overrides: { databaseUrl: BENCH_POSTGRES_URL, "database.schema": schema },
    async drop() {
      const sql = postgres(BENCH_POSTGRES_URL, { max: 1, onnotice: () => {} });
      try {
        await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await sql.end();
      }
    },
  };
}
