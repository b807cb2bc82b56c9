import { describe, expect, it } from "vitest";
import { ECHO_HTTP2_SETTINGS } from "../../bench/http2-settings.js";
import { HTTP2_SETTINGS } from "../../src/server/listener.js";
import type { EventBatch } from "../../tools/sim/agent-pool.js";
import { createEventTracker } from "../../tools/sim/event-tracker.js";
import { createHistogram } from "../../tools/sim/histogram.js";
import { loopbackUrl, NonLoopbackTargetError } from "../../tools/sim/loopback.js";
import { parseSimOptions, SimUsageError, type SimOptions } from "../../tools/sim/options.js";
import { hashUnit, parseReachability } from "../../tools/sim/reachability.js";
import { pickVictims } from "../../tools/sim/simulation.js";
import { agentSpec, dynamicAccountDefinition, type TopologySpec } from "../../tools/sim/topology.js";
import { splitShares } from "../../tools/sim/worker-fleet.js";

describe("loopback targets", () => {
  it.each(["http://127.0.0.1:7002", "http://127.9.9.9:1", "http://[::1]:7002", "http://localhost:7002"])("accepts %s", (url) => {
    expect(loopbackUrl(url).port).not.toBe("");
  });
  it.each(["http://10.0.0.1:7002", "http://example.com:7002", "https://127.0.0.1:7002", "http://[::2]:1", "not a url"])("refuses %s", (url) => {
    expect(() => loopbackUrl(url)).toThrow(NonLoopbackTargetError);
  });
  it("refuses a non-loopback hub or agent target on the command line", () => {
    expect(() => parseSimOptions(["--hub", "http://192.168.1.5:7002"], false)).toThrow(NonLoopbackTargetError);
    expect(() => parseSimOptions(["--hub", "http://127.0.0.1:7002", "--agent-target", "http://10.1.1.1:9091"], false)).toThrow(NonLoopbackTargetError);
  });
});

describe("options", () => {
  it("has defaults sized by the agent count", () => {
    const o = parseSimOptions(["--agents", "5000"], false) as SimOptions;
    expect(o).toMatchObject({ hub: "local", agents: 5000, zones: 2500, workers: 2, kill: 50, prefix: "" });
  });
  it("names the bad flag", () => {
    expect(() => parseSimOptions(["--agents", "0"], false)).toThrow(/--agents/);
    expect(() => parseSimOptions(["--duration", "soon"], false)).toThrow(SimUsageError);
    expect(() => parseSimOptions(["--hub-config", "novalue"], false)).toThrow(/--hub-config/);
  });
  it("passes Node.js flags to the local hub only", () => {
    const o = parseSimOptions(["--hub-node-options= --max-old-space-size=1024  --trace-gc "], false) as SimOptions;
    expect(o.hubNodeOptions).toEqual(["--max-old-space-size=1024", "--trace-gc"]);
    expect((parseSimOptions([], false) as SimOptions).hubNodeOptions).toEqual([]);
    expect(() => parseSimOptions(["--hub-node-options", "max-old-space-size=1024"], false)).toThrow(/--hub-node-options/);
    expect(() => parseSimOptions(["--hub", "http://127.0.0.1:7002", "--hub-node-options=--trace-gc"], false)).toThrow(/--hub local only/);
  });
});

describe("histogram", () => {
  it("reports quantiles within 1 % and merges across processes", () => {
    const a = createHistogram();
    const b = createHistogram();
    for (let i = 1; i <= 1000; i++) (i % 2 === 0 ? a : b).record(i);
    const merged = createHistogram(a.toData());
    merged.merge(b.toData());
    expect(merged.count()).toBe(1000);
    expect(Math.abs(merged.quantile(0.5) - 500) / 500).toBeLessThan(0.01);
    expect(Math.abs(merged.quantile(0.99) - 990) / 990).toBeLessThan(0.01);
    expect(merged.max()).toBe(1000);
  });
});

describe("topology and reachability", () => {
  const topology: TopologySpec = { agents: 10, zones: 5, staticPerZone: 1, dynamicAccounts: 100, unpinnedFraction: 0.2, prefix: "" };

  it("deals agents round-robin over zones, with the zone's static accounts", () => {
    expect(agentSpec(topology, 0).zoneId).toBe(agentSpec(topology, 5).zoneId);
    expect(agentSpec(topology, 7).staticAccounts.map((s) => s.name)).toEqual(["static-2-0"]);
  });

  it("leaves the requested fraction of accounts unpinned", () => {
    const unpinned = Array.from({ length: 100 }, (_, k) => dynamicAccountDefinition(topology, k)).filter((d) => d.zoneId === undefined);
    expect(unpinned).toHaveLength(20);
  });

  it("a fraction makes a zone miss its own cluster for some accounts, never another zone's", () => {
    const reach = parseReachability("0.5");
    const defs = Array.from({ length: 100 }, (_, k) => dynamicAccountDefinition(topology, k));
    const own = defs.filter((d, k) => !reach.reaches(k % 5, String(d.name), d));
    expect(own.length).toBeGreaterThan(20);
    expect(own.length).toBeLessThan(80);
    expect(own.every((d) => hashUnit(String(d.name)) >= 0.5)).toBe(true);
    expect(defs.every((d, k) => reach.reaches((k + 1) % 5, String(d.name), d))).toBe(true);
  });

  it("an explicit map lists the clusters a zone reaches", () => {
    const reach = parseReachability("0=c1;2=*");
    expect(reach.reaches(0, "x", { simCluster: "c0" })).toBe(false);
    expect(reach.reaches(0, "x", { simCluster: "c1" })).toBe(true);
    expect(reach.reaches(2, "x", { simCluster: "c9" })).toBe(true);
    expect(reach.reaches(1, "x", { simCluster: "c0" })).toBe(true);
    expect(() => parseReachability("zone-a")).toThrow(/--reach/);
  });

  it("kills only agents that leave a replica in their zone, spread over zones", () => {
    const victims = pickVictims(topology, 3);
    expect(victims).toHaveLength(3);
    expect(new Set(victims.map((i) => i % 5)).size).toBe(3);
    expect(victims.every((i) => i + 5 < 10)).toBe(true);
    expect(pickVictims({ ...topology, agents: 5 }, 3)).toEqual([]);
  });

  it("splits agents over workers without gaps", () => {
    expect(splitShares(10, 3)).toEqual([
      { first: 0, count: 3 },
      { first: 3, count: 3 },
      { first: 6, count: 4 },
    ]);
    expect(splitShares(2, 5)).toHaveLength(2);
  });
});

describe("the echo ceiling's transport", () => {
  it("uses the HTTP/2 settings of the hub's listeners, so the two are measured on the same transport", () => {
    expect(ECHO_HTTP2_SETTINGS).toEqual(HTTP2_SETTINGS);
  });
});

describe("double caching, judged from the agents' events", () => {
  const batch = (part: Partial<EventBatch>): EventBatch => ({ welcomed: [], cachingGained: [], cachingLost: [], streamsEnded: [], operationsServed: 0, errors: {}, ...part });

  it("finds the moments two agents cached one account, within the window asked about", () => {
    const tracker = createEventTracker();
    // x: a clean handoff at 100 (a stops, b starts at the same millisecond). y: b starts 30 ms before a stops.
    tracker.add(batch({ cachingGained: [["x", "a", 0], ["y", "a", 0]], cachingLost: [["x", "a", 100]] }));
    // Another worker's events arrive later and out of time order.
    tracker.add(batch({ cachingGained: [["x", "b", 100], ["y", "b", 170]] }));
    tracker.add(batch({ cachingLost: [["y", "a", 200]] }));
    expect(tracker.cachingOverlaps(0, 1_000)).toEqual({ accounts: 1, longestMs: 30 });
    expect(tracker.cachingOverlaps(180, 1_000)).toEqual({ accounts: 1, longestMs: 20 });
    expect(tracker.cachingOverlaps(200, 1_000)).toEqual({ accounts: 0, longestMs: 0 });
    expect(tracker.overlapExamples(0, 1_000, 5)).toEqual([
      {
        account: "y",
        longestMs: 30,
        changes: [
          { agentId: "a", atMs: 0, caching: true },
          { agentId: "b", atMs: 170, caching: true },
          { agentId: "a", atMs: 200, caching: false },
        ],
      },
    ]);
    expect(tracker.cachers("x")).toBe(1);
    expect(tracker.cachers("y")).toBe(1);
  });

  it("counts an overlap still open at the end of the window up to that end", () => {
    const tracker = createEventTracker();
    tracker.add(batch({ cachingGained: [["z", "a", 10], ["z", "b", 50]] }));
    expect(tracker.cachingOverlaps(0, 80)).toEqual({ accounts: 1, longestMs: 30 });
    expect(tracker.cachers("z")).toBe(2);
  });

  it("counts the streams that ended on the replicas asked about since a moment", () => {
    const tracker = createEventTracker();
    tracker.add(batch({ streamsEnded: [["a", 0, 5], ["b", 1, 20], ["c", 2, 30], ["d", 1, 40]] }));
    expect(tracker.streamsEndedSince(10, new Set([1]))).toBe(2);
    expect(tracker.streamsEndedSince(10, new Set([0, 2]))).toBe(1);
  });
});
