import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/eventually.js";
import { connectTestAgent, type TestAgent } from "../hub/support/test-agent.js";
import { startCluster, type Cluster } from "./support/cluster.js";
import { call } from "../support/rest.js";

/**
 * Design section 11: "No account may be held by two caching agents at once". Two replicas race
 * for the same accounts: every account is activated through both at once while the agents of
 * its zone connect, half to each replica. The partial unique index makes a second caching row
 * impossible; the engines must still converge: every account ACTIVE, one caching holder in the
 * table, and exactly one agent that was told to cache it.
 */
describe("two replicas racing to assign the same accounts", () => {
  let cluster: Cluster;
  const agents: TestAgent[] = [];
  beforeAll(async () => {
    // Every agent of the zone holds every account (maxHolders 0): the most contention between replicas.
    cluster = await startCluster(["ca", "cb"], { AGENT_HUB_ASSIGNMENT_MAX_HOLDERS: "0" });
  });
  afterAll(async () => {
    for (const a of agents) a.close();
    await cluster.stop();
  });

  it("never produce two caching holders, and every account ends ACTIVE with one", async () => {
    const [a, b] = cluster.replicas as [Cluster["replicas"][0], Cluster["replicas"][0]];
    const names = Array.from({ length: 90 }, (_, i) => `race-${String(i).padStart(2, "0")}`);
    const pinned = (i: number) => i % 3 !== 0;
    expect(
      (await call(a.url, "POST", "/armory/accounts/dynamic", names.map((name, i) => ({ name, kubeconfigFile: `/k/${name}`, ...(pinned(i) ? { zoneId: "zc" } : {}) })))).status,
    ).toBe(202);

    // Agent-side: how many agents believe they cache an account, sampled all along.
    let worst = { account: "", cachingAgents: 0 };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const counts = new Map<string, number>();
        for (const agent of agents) for (const [name, caching] of agent.holdings) if (caching) counts.set(name, (counts.get(name) ?? 0) + 1);
        for (const [account, n] of counts) if (n > worst.cachingAgents) worst = { account, cachingAgents: n };
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();

    // Agents connect while both replicas activate every account.
    const connecting = (async () => {
      for (let i = 1; i <= 3; i++) {
        agents.push(connectTestAgent({ target: a.target, agentId: `c-a${i}`, zoneId: "zc" }));
        agents.push(connectTestAgent({ target: b.target, agentId: `c-b${i}`, zoneId: "zc" }));
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
    })();
    const patches: Promise<{ status: number }>[] = [];
    for (let i = 0; i < names.length; i += 10) {
      const body = names.slice(i, i + 10).map((name) => ({ name, state: "ACTIVE" }));
      patches.push(call(a.url, "PATCH", "/armory/accounts/dynamic", body), call(b.url, "PATCH", "/armory/accounts/dynamic", body));
    }
    await connecting;
    for (const res of await Promise.all(patches)) expect(res.status).toBe(202);

    await eventually(async () => {
      const statuses = await cluster.statuses();
      const holders = await cluster.holders();
      for (const [i, name] of names.entries()) {
        expect(statuses.get(name), name).toBe("ACTIVE");
        const rows = holders.get(name) ?? [];
        expect(rows.filter((h) => h.caching), name).toHaveLength(1);
        // Pinned or not, every agent of the zone (the only one) holds it, whichever replica it is on.
        expect(rows.map((h) => h.agentId).sort(), `${name} (${pinned(i) ? "pinned" : "unpinned"})`).toEqual(["c-a1", "c-a2", "c-a3", "c-b1", "c-b2", "c-b3"]);
        const told = agents.filter((agent) => agent.holdings.get(name) === true).map((agent) => agent.agentId);
        const history = agents.map((agent) => `${agent.agentId}: ${JSON.stringify(agent.received.filter((m) => (m.kind === "add" || m.kind === "save") && m.assignments.some((x) => x.name === name)).map((m) => [m.kind, m.requestId, m.kind === "add" || m.kind === "save" ? m.assignments.find((x) => x.name === name)?.caching : undefined]))}`);
        expect(told, `${name}: agents told to cache; holders ${JSON.stringify(rows)}; ${history.join(" | ")}`).toHaveLength(1);
      }
    }, 25_000);
    sampling = false;
    await sampler;
    const retried = cluster.replicas.flatMap((r) => r.logs).filter((l) => String(l.msg).startsWith("another replica gave an account a caching holder first")).length;
    console.log(`batches run again after a caching conflict: ${retried}; most agents caching one account at once: ${worst.cachingAgents}`);

    expect(worst.cachingAgents, `at some moment ${worst.cachingAgents} agents cached ${worst.account}`).toBeLessThanOrEqual(1);
    // The database's own guard is in place.
    const index = await cluster.database.rows<{ indexdef: string }>(
      sql`SELECT indexdef FROM pg_indexes WHERE schemaname = ${cluster.database.schema} AND indexname = 'kubesvc_assignments_one_caching'`,
    );
    expect(index[0]?.indexdef).toMatch(/UNIQUE INDEX .* \(account_name\) WHERE caching/);
    // Caching roles are spread over the agents of both replicas, not piled on one.
    const perAgent = await cluster.database.rows<{ agent_id: string; n: number }>(sql`SELECT agent_id, count(*)::int AS n FROM kubesvc_assignments WHERE caching GROUP BY agent_id`);
    expect(perAgent.length).toBeGreaterThan(1);
  }, 60_000);
});
