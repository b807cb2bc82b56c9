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
 * disturbing the other test files that share the server). The replicas reconnect within
 * seconds (reconnectBackoff) and go on: neither dies, their agents stay connected, and work
 * still crosses from one replica to the other, also when the cut lands in the middle of it.
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
    expect((await call(a.url, "POST", "/armory/accounts/dynamic", ["before", "after", "cut-1", "cut-2", "cut-3"].map((name) => ({ name, zoneId: "zo", kubeconfigFile: `/k/${name}` })))).status).toBe(202);
    expect((await call(a.url, "PATCH", "/armory/accounts/dynamic", [{ name: "before", state: "ACTIVE" }])).status).toBe(202);
    await agent.waitFor("add", (m) => m.assignments.some((x) => x.name === "before"), 15_000);

    const admin = postgres(POSTGRES_URL, { max: 1, onnotice: () => {} });
    const cut = async () => {
      const ended = await admin<{ pid: number }[]>`
        SELECT pg_terminate_backend(pid) AS pid FROM pg_stat_activity WHERE application_name IN (${appName("oa")}, ${appName("ob")})`;
      return ended.length;
    };
    // Neither replica dies of it: postgres.js 3.4.9 threw an uncaught TypeError from a write
    // left waiting on the closed socket (porsager/postgres#1154, #1208), which
    // patches/postgres+3.4.9.patch turns into the rejection of the statements in flight.
    const alive = () => {
      for (const r of cluster.replicas) expect(r.diagnostics().exit, `${r.hubId} exited: ${r.diagnostics().stderr}`).toBeUndefined();
    };
    try {
      // The pools and both LISTEN connections.
      expect(await cut()).toBeGreaterThanOrEqual(4);
      await eventually(async () => {
        alive();
        const back = await admin<{ application_name: string }[]>`
          SELECT DISTINCT application_name FROM pg_stat_activity WHERE application_name IN (${appName("oa")}, ${appName("ob")})`;
        expect(back.map((x) => x.application_name).sort()).toEqual([appName("oa"), appName("ob")].sort());
      }, 15_000);

      // A request in flight when the connections dropped may fail; the replica itself goes on.
      await eventually(async () => expect((await call(a.url, "PATCH", "/armory/accounts/dynamic", [{ name: "after", state: "ACTIVE" }])).status).toBe(202), 15_000);
      await agent.waitFor("add", (m) => m.assignments.some((x) => x.name === "after"), 15_000);
      await eventually(async () => {
        const statuses = await cluster.statuses();
        expect([statuses.get("before"), statuses.get("after")]).toEqual(["ACTIVE", "ACTIVE"]);
      }, 15_000);
      const op = await call(a.url, "POST", "/armory/operations", { account: "after", kind: "get", payload: {} });
      expect(op).toMatchObject({ status: 200, json: { agentId: agent.agentId, outcome: "OK" } });

      // Cuts that land while an activation is on its way (in A's batch, in the letter to B, in
      // B's send): each activation still reaches the agent on B.
      for (const name of ["cut-1", "cut-2", "cut-3"]) {
        await eventually(async () => expect((await call(a.url, "PATCH", "/armory/accounts/dynamic", [{ name, state: "ACTIVE" }])).status).toBe(202), 15_000);
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 50));
        await cut();
        await agent.waitFor("add", (m) => m.assignments.some((x) => x.name === name), 15_000);
        alive();
      }
    } finally {
      await admin.end();
    }
    // The replicas kept their agent's stream: no second welcome.
    expect(agent.received.filter((m) => m.kind === "welcome")).toHaveLength(1);
  }, 120_000);
});
