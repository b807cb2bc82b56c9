import type { SQL } from "drizzle-orm";

/** What runs a drizzle statement: a `Db` or a transaction (typed apart so that `Db` can use this). */
interface StatementRunner {
  execute(query: SQL): PromiseLike<unknown>;
}

/**
 * Runs a raw statement on a database or transaction and returns its rows. PGlite answers
 * `{rows}` and postgres.js a row array; callers should not care which driver is behind `Db`.
 * Values come back as the driver returns them (drizzle turns off postgres.js's JSON and date
 * parsing), so statements cast what they read to text or numbers themselves.
 */
export async function queryRows<T extends Record<string, unknown>>(executor: StatementRunner, query: SQL): Promise<T[]> {
  const result: unknown = await executor.execute(query);
  if (Array.isArray(result)) return result as T[];
  return (result as { rows: T[] }).rows;
}
