import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/eventually.js";
import { connectTestAgent, type TestAgent } from "../hub/support/test-agent.js";
import { POSTGRES_URL } from "../support/databases.js";
import { startCluster, type Cluster } from "./support/cluster.js";
import { call } from "../support/rest.js";
import { startTcpProxy, type TcpProxy } from "./support/tcp-proxy.js";

const LEASE_TTL_MS = 2_000;
const NAMES = Array.from({ length: 12 }, (_, i) => `fence-${String(i).padStart(2, "0")}`);

/**
 * Issue 11 item 6, design section 11 (lease semantics): replica A reaches PostgreSQL through a
 * proxy the test cuts like a network partition (statements never answer, nothing resets), while
 * replica B keeps its connections. A cannot renew for a whole leaseTtl, so it ends its agents'
 * streams (UNAVAILABLE) — before B, seeing A's lease run out, gives A's caching roles to B's agent.
 * Judged from the agents' side: no moment at which both agents were told to cache one account.
 */
describe("a replica cut off from PostgreSQL", () => {
  let cluster: Cluster;
  let proxy: TcpProxy;
  const agents: TestAgent[] = [];
  beforeAll(async () => {
    const pg = new URL(POSTGRES_URL);
    proxy = await startTcpProxy({ host: pg.hostname, port: Number(pg.port || 5432) });
    const viaProxy = new URL(POSTGRES_URL);
    viaProxy.port = String(proxy.port);
    cluster = await startCluster(["fa", "fb"], { AGENT_HUB_HUB_LEASE_TTL: `${LEASE_TTL_MS}ms` }, (hubId) =>
      hubId === "fa" ? { DATABASE_URL: viaProxy.toString() } : ({} as Record<string, string>),
    );
  });
  afterAll(async () => {
    for (const a of agents) a.close();
    // Connections through the proxy fail at once, so that A's shutdown does not wait for them.
    await proxy.close();
    await cluster.stop();
  });

  it("ends its streams after leaseTtl, before the other replica promotes a second caching holder", async () => {
    const [a, b] = cluster.replicas as [Cluster["replicas"][0], Cluster["replicas"][0]];
    /** When B's agent was told caching=true, per account (first time after the cut). */
    const promotedOnB = new Map<string, number>();
    let cutAt = Infinity;
    const onA = connectTestAgent({ target: a.target, agentId: "fence-a", zoneId: "zf" });
    const onB = connectTestAgent({
      target: b.target,
      agentId: "fence-b",
      zoneId: "zf",
      onAccount(account, _kind, assignment) {
        if (assignment?.caching === true && Date.now() >= cutAt && !promotedOnB.has(account)) promotedOnB.set(account, Date.now());
        return { outcome: "OK" };
      },
    });
    agents.push(onA, onB);
    await onA.waitFor("welcome", undefined, 15_000);
    await onB.waitFor("welcome", undefined, 15_000);
    expect((await call(b.url, "POST", "/armory/accounts/dynamic", NAMES.map((name) => ({ name, zoneId: "zf", kubeconfigFile: `/k/${name}` })))).status).toBe(202);
    expect((await call(b.url, "PATCH", "/armory/accounts/dynamic", NAMES.map((name) => ({ name, state: "ACTIVE" })))).status).toBe(202);
    await eventually(async () => {
      const statuses = await cluster.statuses();
      expect(NAMES.map((n) => statuses.get(n))).toEqual(NAMES.map(() => "ACTIVE"));
      const holders = await cluster.holders();
      for (const n of NAMES) expect(holders.get(n)?.filter((h) => h.caching)).toHaveLength(1);
    }, 15_000);
    // Caching spread over both agents: A's agent caches some of the accounts. Both agents' views
    // must agree with the database first: a caching role moved between them just before the cut
    // (B's join batch may land after the activation) would otherwise count as a promotion.
    const cachedByA = await eventually(async () => {
      const holders = await cluster.holders();
      const names = [...onA.holdings].filter(([, caching]) => caching).map(([n]) => n);
      for (const n of NAMES) {
        const cachingAgent = holders.get(n)?.find((h) => h.caching)?.agentId;
        expect(onA.holdings.get(n) === true, `${n} cached by A's agent`).toBe(cachingAgent === "fence-a");
        expect(onB.holdings.get(n) === true, `${n} cached by B's agent`).toBe(cachingAgent === "fence-b");
      }
      expect(names.length).toBeGreaterThan(0);
      return names;
    }, 10_000);

    cutAt = Date.now();
    proxy.cut();
    const end = await onA.ended;
    const endedAt = Date.now();
    expect(end.code).toBe(14);
    expect(end.details).toContain("lost its lease");
    // Not at once: a leaseTtl less the guard (one hub.heartbeatInterval) after the last successful
    // renewal, which on a loaded machine may have been sent a few intervals before the cut.
    expect(endedAt - cutAt).toBeGreaterThanOrEqual(LEASE_TTL_MS / 2);

    // B takes over every account A's agent cached, one caching holder each, on B's agent. Once
    // A's sessions are gone on the server's side: a session of A caught mid-statement by the cut
    // holds its row locks until PostgreSQL notices the client is gone (TCP keepalive; not
    // idle_in_transaction_session_timeout, which only covers idle sessions), and B's release
    // waits for them. Here the test ends them, as keepalive would.
    proxy.dropUpstream();
    await eventually(async () => {
      const holders = await cluster.holders();
      for (const n of NAMES) expect(holders.get(n)).toEqual([{ agentId: "fence-b", caching: true, hubId: "fb" }]);
      const statuses = await cluster.statuses();
      expect(NAMES.map((n) => statuses.get(n))).toEqual(NAMES.map(() => "ACTIVE"));
    }, 15_000);
    for (const n of cachedByA) {
      expect(promotedOnB.get(n), `${n} promoted on B`).toBeDefined();
      expect(promotedOnB.get(n)!, `${n}: B's agent told to cache before A's agent's stream ended`).toBeGreaterThan(endedAt);
    }
    expect(a.logs.some((l) => String(l.msg).includes("lost its lease") && String(l.why).includes("could not renew"))).toBe(true);
    // B's agent was never disconnected: one welcome, stream open.
    expect(onB.received.filter((m) => m.kind === "welcome")).toHaveLength(1);
    const stillOpen = await Promise.race([onB.ended.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 50))]);
    expect(stillOpen).toBe(true);
    console.log(
      `cut → A ended its stream after ${endedAt - cutAt} ms (leaseTtl ${LEASE_TTL_MS} ms); B promoted ${cachedByA.length} accounts ${Math.min(...cachedByA.map((n) => promotedOnB.get(n)!)) - endedAt} ms after that`,
    );
  }, 60_000);
});
