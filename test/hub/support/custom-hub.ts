import { loadConfig } from "../../../src/config/config.js";
import type { Clock } from "../../../src/hub/clock.js";
import { createLogger } from "../../../src/log/logger.js";
import { startApp, type HubApp } from "../../../src/server/app.js";
import type { Database } from "../../../src/store/database.js";
import { FAST } from "./hub-scenario.js";

/** Starts a hub on a database the test prepared (seeded rows, counting wrapper), with fast timers (on `clock`, when given). */
export async function startHubOn(database: Database, overrides: Record<string, unknown> = {}, clock?: Clock): Promise<HubApp> {
  const config = loadConfig({ env: {}, overrides: { port: 0, host: "127.0.0.1", "log.level": "silent", ...FAST, ...overrides } });
  return startApp(config, { database, logger: createLogger(process.env.TEST_LOG_LEVEL ?? "silent"), clock });
}

/** The database with its transactions counted, to show that work is batched. */
export function countingTransactions(database: Database): { database: Database; count(): number } {
  let transactions = 0;
  const db = new Proxy(database.db, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (property !== "transaction" || typeof value !== "function") return value;
      return (...args: unknown[]) => {
        transactions++;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { database: { ...database, db }, count: () => transactions };
}
