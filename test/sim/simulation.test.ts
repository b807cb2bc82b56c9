import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHubApi, type AccountJson, type AgentJson } from "../../tools/sim/hub-api.js";
import { hashUnit } from "../../tools/sim/reachability.js";
import { parseSimOptions, type SimOptions } from "../../tools/sim/options.js";
import { plainProgress } from "../../tools/sim/progress.js";
import type { SimReport } from "../../tools/sim/report.js";
import { runSimulation } from "../../tools/sim/simulation.js";
import { startTestHub, type TestHub } from "../support/hub.js";

/**
 * A small simulation against a real hub: 6 agents in 3 zones (2 replicas each), 30 dynamic
 * accounts of which a fifth cannot be reached from their own zone (so they fall back), a burst of
 * operations, and 2 agents killed. The report's numbers must match what the REST API shows.
 */
describe("simulator against a real hub", () => {
  let hub: TestHub;
  let report: SimReport;
  let accounts: AccountJson[];
  let agents: AgentJson[];
  const lines: string[] = [];

  beforeAll(async () => {
    hub = await startTestHub("pglite");
    const options = parseSimOptions(
      [
        ...["--hub", hub.url, "--workers", "0", "--agents", "6", "--zones", "3", "--static", "1"],
        ...["--accounts", "30", "--unpinned", "0.2", "--reach", "0.8", "--batch", "7"],
        ...["--duration", "1s", "--ops-rate", "40", "--ops-concurrency", "4", "--kill", "2", "--phase-timeout", "20s", "--prefix", "t-"],
      ],
      false,
    ) as SimOptions;
    const api = createHubApi(hub.url);
    // The hub's view is read at the end of the run, while the surviving agents are still connected.
    const readHub = async () => {
      accounts = await api.listAll();
      agents = await api.listAgents();
    };
    report = await runSimulation(options, { progress: plainProgress((l) => lines.push(l), 0), beforeStop: readHub });
    api.close();
  }, 60_000);

  afterAll(async () => {
    await hub?.stop();
  });

  it("connected every agent, and the hub lists exactly the survivors", () => {
    expect(report.connect).toMatchObject({ agents: 6, connected: 6 });
    expect(report.connect.latency.count).toBe(6);
    expect(report.failover.killed).toHaveLength(2);
    const killed = new Set(report.failover.killed);
    // The killed agents are gone from the hub once their streams ended; the others are still there.
    const listed = agents.map((a) => a.agentId).sort();
    expect(listed).toHaveLength(4);
    expect(listed.some((id) => killed.has(id))).toBe(false);
  });

  it("reports every account ACTIVE, as the REST API shows them", () => {
    expect(report.activation.allActiveMs).toBeDefined();
    const dynamic = accounts.filter((a) => a.name.startsWith("t-dyn-"));
    expect(dynamic).toHaveLength(30);
    expect(dynamic.filter((a) => a.status === "ACTIVE")).toHaveLength(30);
    expect(report.activation.byStatus).toEqual({ ACTIVE: 30 });
    const statics = accounts.filter((a) => a.name.startsWith("t-static-"));
    expect(statics.map((a) => a.status)).toEqual(["ACTIVE", "ACTIVE", "ACTIVE"]);
    // With --reach 0.8 a zone cannot reach its own cluster for the accounts whose name hashes at
    // or above 0.8: those fell back, and REST shows them held by agents of other zones only.
    const zoneOf = new Map(agents.map((a) => [a.agentId, a.zoneId]));
    const pinned = dynamic.filter((a) => a.zoneId !== "");
    const unreachable = pinned.filter((a) => hashUnit(a.name) >= 0.8);
    expect(unreachable.length).toBeGreaterThan(0);
    for (const a of pinned) {
      const zones = a.agents.map((h) => zoneOf.get(h.agentId));
      if (unreachable.includes(a)) expect(zones.includes(a.zoneId), a.name).toBe(false);
      else expect(zones.every((z) => z === a.zoneId), a.name).toBe(true);
    }
  });

  it("counts operations the way the agents served them", () => {
    expect(report.operations.sent).toBeGreaterThan(0);
    expect(report.operations.ok).toBe(report.operations.sent);
    expect(report.operations.servedByAgents).toBe(report.operations.ok);
    expect(report.operations.latency.count).toBe(report.operations.ok);
  });

  it("fails every account the killed agents cached over to a live agent, and REST agrees", () => {
    expect(report.failover.accounts).toBeGreaterThan(0);
    expect(report.failover.failedOver).toBe(report.failover.accounts);
    expect(report.failover.restConfirmed).toBe(report.failover.restChecked);
    const killed = new Set(report.failover.killed);
    for (const a of accounts.filter((x) => x.status === "ACTIVE")) {
      const caching = a.agents.filter((h) => h.caching);
      expect(caching, a.name).toHaveLength(1);
      expect(killed.has(caching[0]!.agentId), a.name).toBe(false);
    }
    // Every ACTIVE account has exactly one caching role, and the agents' counts add up to that.
    const cachingRoles = agents.reduce((n, a) => n + a.caching, 0);
    expect(cachingRoles).toBe(accounts.filter((a) => a.status === "ACTIVE").length);
  });

  it("had no errors and showed its progress in plain lines", () => {
    expect(report.errors).toEqual({});
    expect(lines.some((l) => l.startsWith("[failover] done:"))).toBe(true);
  });
});
