import { loadConfig, type HubConfig } from "../../src/config/config.js";
import { createLogger } from "../../src/log/logger.js";
import type { Clock } from "../../src/hub/clock.js";
import { startApp, type HubApp } from "../../src/server/app.js";
import { openTestDatabase, type DatabaseKind } from "./databases.js";

/** A real hub on port 0 with a database of its own, and its base URL. */
export interface TestHub {
  app: HubApp;
  config: HubConfig;
  url: string;
  /** Closes the hub and drops its database. */
  stop(): Promise<void>;
}

/**
 * Starts a hub on 127.0.0.1, port 0, on a fresh database of the given kind. `overrides` are
 * configuration keys by path, e.g. `{"heartbeat.interval": "200ms"}`; the environment is ignored.
 * `clock` (a manual clock from manual-clock.ts) drives the hub's schedule instead of real time.
 */
export async function startTestHub(kind: DatabaseKind, overrides: Record<string, unknown> = {}, clock?: Clock): Promise<TestHub> {
  const database = await openTestDatabase(kind);
  const config = loadConfig({ env: {}, overrides: { port: 0, host: "127.0.0.1", "log.level": "silent", ...overrides } });
  const app = await startApp(config, { database, logger: createLogger(process.env.TEST_LOG_LEVEL ?? "silent"), clock });
  return {
    app,
    config,
    url: `http://127.0.0.1:${app.port}`,
    async stop() {
      await app.close();
      await database.close();
      await database.dropSchema();
    },
  };
}
