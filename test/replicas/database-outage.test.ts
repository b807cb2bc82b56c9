import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/eventually.js";
import { connectTestAgent, type TestAgent } from "../hub/support/test-agent.js";
import { POSTGRES_URL } from "../support/databases.js";
import { startCluster, type Cluster } from "./support/cluster.js";
import { call } from "../support/rest.js";

/**
 * Issue 5 item 5, "PostgreSQL restart while running": every server connection of both replicas
 * is terminated at once (pg_terminate_backend, which is what a restart does to them, without
 * disturbing the other test files that share the server). The replicas reconnect and go on:
 * their agents stay connected, and work still crosses from one replica to the other. A replica
 * that dies of the postgres.js bug named below is restarted, and the pair goes on just the same.
 */
describe("the database drops every connection of the replicas", () => {
  let cluster: Cluster;
  const agents: TestAgent[] = [];
  const appName = (hubId: string) => `agent-hub-test-${hubId}-${cluster.database.schema}`;
  beforeAll(async () => {
    // PGAPPNAME (read by postgres.js) tags each replica's connections so that only they are cut.
    // A lease longer than the outage: a replica whose lease runs out meanwhile rightly ends its
    // agents' streams (they register again), which is another scenario than "goes on"; on a
    // loaded machine the 1.5 s lease of the other fault tests can run out while reconnecting.
    const lease = { AGENT_HUB_HUB_LEASE_TTL: "10s", AGENT_HUB_HEARTBEAT_INTERVAL: "2s" };
    cluster = await startCluster(["oa", "ob"], lease, (hubId, schema) => ({ PGAPPNAME: `agent-hub-test-${hubId}-${schema}` }));
  });
  afterAll(async () => {
    for (const a of agents) a.close();
    await cluster.stop();
  });

  it("the replicas reconnect and go on: writes on A still reach the agent on B, operations are answered", async () => {
    const [a, b] = cluster.replicas as [Cluster["replicas"][0], Cluster["replicas"][0]];
    const agent = connectTestAgent({ target: b.target, agentId: "o-b1", zoneId: "zo" });
    agents.push(agent);
    await agent.waitFor("welcome", undefined, 15_000);
    expect((await call(a.url, "POST", "/armory/accounts/dynamic", [{ name: "before", zoneId: "zo", kubeconfigFile: "/k/b" }, { name: "after", zoneId: "zo", kubeconfigFile: "/k/a" }])).status).toBe(202);
    expect((await call(a.url, "PATCH", "/armory/accounts/dynamic", [{ name: "before", state: "ACTIVE" }])).status).toBe(202);
    await agent.waitFor("add", (m) => m.assignments.some((x) => x.name === "before"), 15_000);

    const admin = postgres(POSTGRES_URL, { max: 1, onnotice: () => {} });
    const crashed: string[] = [];
    try {
      const cut = await admin<{ pid: number }[]>`
        SELECT pg_terminate_backend(pid) AS pid FROM pg_stat_activity WHERE application_name IN (${appName("oa")}, ${appName("ob")})`;
      // The pools and both LISTEN connections.
      expect(cut.length).toBeGreaterThanOrEqual(4);
      // Each replica either reconnects, or dies of postgres.js 3.4.9's unguarded write on a
      // closed socket (porsager/postgres#1154, #1208: an uncaught TypeError in nextWrite) and is
      // restarted, as Kubernetes would, under the same hub id.
      await eventually(async () => {
        const back = await admin<{ application_name: string }[]>`
          SELECT DISTINCT application_name FROM pg_stat_activity WHERE application_name IN (${appName("oa")}, ${appName("ob")})`;
        for (const r of cluster.replicas) {
          expect(r.diagnostics().exit !== undefined || back.some((x) => x.application_name === appName(r.hubId)), `${r.hubId} neither reconnected nor exited`).toBe(true);
        }
      }, 15_000);
    } finally {
      await admin.end();
    }
    for (const [i, r] of [...cluster.replicas.entries()]) {
      if (r.diagnostics().exit === undefined) continue;
      crashed.push(r.hubId);
      expect(r.diagnostics().stderr).toContain("reading 'write'");
      await cluster.restart(i);
    }
    console.log(`connections of both replicas terminated; replicas that crashed on the postgres.js bug and were restarted: ${crashed.join(", ") || "none"}`);
    const [a2, b2] = cluster.replicas as [Cluster["replicas"][0], Cluster["replicas"][0]];
    // Whether B survived or was restarted, a zone agent on B gets what is activated on A.
    const agentOnB = crashed.includes("ob") ? connectTestAgent({ target: b2.target, agentId: "o-b2", zoneId: "zo" }) : agent;
    if (agentOnB !== agent) agents.push(agentOnB);
    await agentOnB.waitFor("welcome", undefined, 15_000);

    // A request in flight when the connections dropped may fail; the replica itself goes on.
    await eventually(async () => expect((await call(a2.url, "PATCH", "/armory/accounts/dynamic", [{ name: "after", state: "ACTIVE" }])).status).toBe(202), 15_000);
    await agentOnB.waitFor("add", (m) => m.assignments.some((x) => x.name === "after"), 15_000);
    await eventually(async () => {
      const statuses = await cluster.statuses();
      expect([statuses.get("before"), statuses.get("after")]).toEqual(["ACTIVE", "ACTIVE"]);
    }, 15_000);
    const op = await call(a2.url, "POST", "/armory/operations", { account: "after", kind: "get", payload: {} });
    expect(op).toMatchObject({ status: 200, json: { agentId: agentOnB.agentId, outcome: "OK" } });
    // A replica that survived kept its agent's stream: no second welcome.
    if (!crashed.includes("ob")) expect(agent.received.filter((m) => m.kind === "welcome")).toHaveLength(1);
  }, 60_000);
});
