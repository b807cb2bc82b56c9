import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { wallNow } from "../tools/sim/clock.js";
import { createHistogram, type HistogramData } from "../tools/sim/histogram.js";

/** The PostgreSQL the benchmarks run on (the headline); the same default as the test suite. */
export const BENCH_POSTGRES_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** Hub configuration for a benchmark database, and how to drop it afterwards. */
export interface BenchDatabase {
  kind: "postgres" | "pglite";
  /** Keys for the local hub's configuration. */
  overrides: Record<string, string>;
  /**
   * Times `text` `repeat` times on a connection of the benchmark's own to the hub's schema: the
   * raw-SQL ceiling. PostgreSQL only (an in-memory PGlite lives inside the hub process).
   */
  timeSql(text: string, repeat: number): Promise<{ latency: HistogramData; rows: number }>;
  drop(): Promise<void>;
}

/** A fresh schema on PostgreSQL (dropped afterwards), or in-memory PGlite. */
export function benchDatabase(kind: "postgres" | "pglite"): BenchDatabase {
  if (kind === "pglite") {
    return {
      kind,
      overrides: { databaseUrl: "", dataDir: "memory://" },
      timeSql: () => Promise.reject(new Error("raw SQL timing needs PostgreSQL: an in-memory PGlite is reachable only inside the hub")),
      drop: async () => {},
    };
  }
  const schema = `bench_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
  let raw: postgres.Sql | undefined;
  return {
    kind,
    overrides: { databaseUrl: BENCH_POSTGRES_URL, "database.schema": schema },
    async timeSql(text, repeat) {
      // The session settings the hub's own connections use (src/store/database.ts), so that the ceiling compares.
      raw ??= postgres(BENCH_POSTGRES_URL, { max: 1, onnotice: () => {}, connection: { search_path: schema, jit: "off" } });
      const h = createHistogram();
      let rows = 0;
      for (let i = 0; i < repeat; i++) {
        const t = wallNow();
        rows = (await raw.unsafe(text)).length;
        h.record(wallNow() - t);
      }
      return { latency: h.toData(), rows };
    },
    async drop() {
      await raw?.end();
      const sql = postgres(BENCH_POSTGRES_URL, { max: 1, onnotice: () => {} });
      try {
        await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await sql.end();
      }
    },
  };
}
