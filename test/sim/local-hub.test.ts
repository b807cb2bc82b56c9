import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { benchDatabase, type BenchDatabase } from "../../bench/bench-database.js";
import { createHubApi } from "../../tools/sim/hub-api.js";
import { startLocalHub, type LocalHub } from "../../tools/sim/local-hub.js";
import { parseSimOptions, type SimOptions } from "../../tools/sim/options.js";
import { plainProgress } from "../../tools/sim/progress.js";
import { runSimulation } from "../../tools/sim/simulation.js";
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

describe("simulation over two local replicas on one PostgreSQL", () => {
  it("spreads the agents over both, reports each replica's database work per phase, and heals a replica's kill -9 on the other", async () => {
    const database = benchDatabase("postgres");
    try {
      const options = parseSimOptions(
        [
          ...["--agents", "4", "--zones", "2", "--accounts", "6", "--workers", "2", "--duration", "1s", "--ops-rate", "20", "--kill", "0"],
          ...["--phase-timeout", "60s", "--prefix", "r2-"],
          ...Object.entries(database.overrides).flatMap(([k, v]) => ["--hub-config", `${k}=${v}`]),
          // The survivor takes the dead replica's agents over once its lease has run out.
          ...["--hub-config", "hub.heartbeatInterval=200ms", "--hub-config", "hub.leaseTtl=1500ms"],
        ],
        false,
      ) as SimOptions;
      const connected: number[] = [];
      const readReplicas = async (urls: string[]) => {
        for (const url of urls) {
          const text = await (await fetch(`${url}/metrics`)).text();
          connected.push(Number(/^agenthub_agents_connected (\d+)$/m.exec(text)?.[1]));
        }
      };
      const report = await runSimulation(options, { progress: plainProgress(() => {}, 0), replicas: 2, killReplica: true, beforeStop: readReplicas });
      // Worker w dials replica w mod 2: two agents on each; the killed one's two redialed the survivor.
      expect(report.replicaKill?.agents).toBe(2);
      expect(connected).toEqual([4]);
      expect(report.replicaKill?.allWelcomedMs).toBeDefined();
      // Every account ACTIVE with one caching agent again, as REST and the agents see it.
      expect(report.replicaKill?.healMs).toBeDefined();
      expect(report.replicaKill?.survivorStreamsEnded).toBe(0);
      expect(report.replicaKill?.doubleCaching).toEqual({ accounts: 0, longestMs: 0 });
      expect(report.doubleCaching.accounts).toBe(0);
      expect(report.connect.connected).toBe(4);
      expect(report.activation.byStatus).toEqual({ ACTIVE: 6 });
      const quiet = report.replicaWork?.quiet;
      expect(quiet).toHaveLength(2);
      // The dead replica sends nothing after its death.
      expect(report.replicaWork?.replicaKill?.[1]).toEqual({ statementsPerSec: 0, notifiesPerSec: 0, eventLoopP99: 0 });
      // Each replica renews its own lease in the quiet window, whoever its agents are.
      for (const replica of quiet!) expect(replica.statementsPerSec).toBeGreaterThan(0);
      expect(report.databaseWork?.quiet?.statementsPerSec).toBe(quiet!.reduce((n, r) => n + r.statementsPerSec, 0));
    } finally {
      await database.drop();
    }
  }, 180_000);
});
