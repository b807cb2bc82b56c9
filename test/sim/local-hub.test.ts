import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { benchDatabase, type BenchDatabase } from "../../bench/bench-database.js";
import { createHubApi } from "../../tools/sim/hub-api.js";
import { startLocalHub, type LocalHub } from "../../tools/sim/local-hub.js";
import { dynamicAccountDefinition, type TopologySpec } from "../../tools/sim/topology.js";

/**
 * The simulator's local hub is the production command (`agent-hub serve`) in a child process,
 * read over the network only: REST, `/readyz` and `/metrics`.
 */
describe("local hub started through the agent-hub command", () => {
  let database: BenchDatabase;
  let hub: LocalHub;

  beforeAll(async () => {
    database = benchDatabase("postgres");
    hub = await startLocalHub({ overrides: database.overrides, logFile: undefined });
  }, 120_000);

  afterAll(async () => {
    await hub?.stop();
    await database?.drop();
  });

  it("serves REST on its port and reports the statements each phase sent to PostgreSQL", async () => {
    const quiet = await hub.loopDelay();
    const api = createHubApi(hub.url);
    const topology: TopologySpec = { agents: 1, zones: 1, staticPerZone: 0, dynamicAccounts: 3, unpinnedFraction: 0, prefix: "lh-" };
    await api.createAccounts([0, 1, 2].map((k) => dynamicAccountDefinition(topology, k)));
    const created = await hub.loopDelay();
    api.close();
    // Three accounts inserted: at least one transaction's worth of statements more than the quiet window's.
    expect(created.work.statements).toBeGreaterThan(quiet.work.statements);
    expect(created.work.notifies).toBeLessThanOrEqual(created.work.statements);
    expect(created.work.ms).toBeGreaterThan(0);
    expect(created.max).toBeGreaterThanOrEqual(created.p99);
    const { rows } = await database.timeSql("SELECT name FROM kubesvc_accounts", 1);
    expect(rows).toBe(3);
  });

  it("stops on SIGTERM like a deployed hub", async () => {
    await hub.stop();
    await expect(fetch(`${hub.url}/healthz`)).rejects.toThrow();
  });
});
