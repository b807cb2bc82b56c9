import type { Database, Db } from "./database.js";

/**
 * Runs `work` in one transaction and returns its result. drizzle hands the callback its own
 * transaction class; typed as `Db` here, it goes to every store function as it is, so no caller
 * casts it.
 */
export function inTransaction<T>(database: Pick<Database, "db">, work: (tx: Db) => Promise<T>): Promise<T> {
  return database.db.transaction((tx) => work(tx));
}
