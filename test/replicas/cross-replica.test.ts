import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectTestAgent, type TestAgent } from "../hub/support/test-agent.js";
import { eventually } from "../support/eventually.js";
import { startCluster, type Cluster } from "./support/cluster.js";
import { call } from "../support/rest.js";

/**
 * Design section 11: agents and REST clients may reach any replica. A write on replica A for an
 * agent whose stream replica B holds goes through PostgreSQL (a letter plus NOTIFY), and so does
 * an operation and its answer.
 */
describe("REST on one replica, agent on another", () => {
  let cluster: Cluster;
  const agents: TestAgent[] = [];
  beforeAll(async () => {
    cluster = await startCluster(["xa", "xb"]);
  });
  afterAll(async () => {
    for (const a of agents) a.close();
    await cluster.stop();
  });

  it("a PATCH on A reaches the agent connected to B, and POST /armory/operations on A is answered by it", async () => {
    const [a, b] = cluster.replicas as [Cluster["replicas"][0], Cluster["replicas"][0]];
    const agent = connectTestAgent({ target: b.target, agentId: "agent-b-1", zoneId: "zb" });
    agents.push(agent);
    const welcome = await agent.waitFor("welcome", undefined, 15_000);
    expect(welcome.hubId).toBe("xb");

    expect((await call(a.url, "POST", "/armory/accounts/dynamic", { name: "acct-x", zoneId: "zb", kubeconfigFile: "/k/x" })).status).toBe(202);
    expect((await call(a.url, "PATCH", "/armory/accounts/dynamic", [{ name: "acct-x", state: "ACTIVE" }])).status).toBe(202);
    const add = await agent.waitFor("add", (m) => m.assignments.some((x) => x.name === "acct-x"), 15_000);
    expect(add.assignments.find((x) => x.name === "acct-x")?.caching).toBe(true);

    // The agent's OK comes back on B's stream; B's engine records it in the shared tables.
    await eventually(async () => {
      const got = await call(a.url, "GET", "/armory/accounts/acct-x");
      expect(got.json).toMatchObject({ status: "ACTIVE", agents: [{ agentId: "agent-b-1", caching: true }] });
    }, 15_000);

    const op = await call(a.url, "POST", "/armory/operations", { account: "acct-x", kind: "deploy", payload: { n: 1 } });
    expect(op.status).toBe(200);
    expect(op.json).toMatchObject({ agentId: "agent-b-1", outcome: "OK", result: { echo: { n: 1 }, agent: "agent-b-1" } });
    const received = agent.received.find((m) => m.kind === "operation");
    expect(received).toMatchObject({ account: "acct-x", opKind: "deploy" });

    // A later change made on A is pushed to the holder on B too.
    expect((await call(a.url, "PUT", "/armory/accounts/dynamic", { name: "acct-x", zoneId: "zb", kubeconfigFile: "/k/x2" })).status).toBe(202);
    await agent.waitFor("save", (m) => m.assignments.some((x) => x.name === "acct-x" && x.config.kubeconfigFile === "/k/x2"), 15_000);
  });

  it("an agent that connects to A while its stream on B is still open is taken over at once: B ends the old stream", async () => {
    const [a, b] = cluster.replicas as [Cluster["replicas"][0], Cluster["replicas"][0]];
    const old = connectTestAgent({ target: b.target, agentId: "mover", zoneId: "zm" });
    agents.push(old);
    await old.waitFor("welcome", undefined, 15_000);
    expect((await call(a.url, "POST", "/armory/accounts/dynamic", { name: "acct-m", zoneId: "zm", kubeconfigFile: "/k/m" })).status).toBe(202);
    expect((await call(a.url, "PATCH", "/armory/accounts/dynamic", [{ name: "acct-m", state: "ACTIVE" }])).status).toBe(202);
    await eventually(async () => expect((await cluster.statuses()).get("acct-m")).toBe("ACTIVE"), 15_000);

    const statuses: string[] = [];
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const status = (await cluster.statuses()).get("acct-m") ?? "(gone)";
        if (statuses[statuses.length - 1] !== status) statuses.push(status);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    // The same agent id on the other replica, while B still holds the first stream (and B's lease runs).
    const fresh = connectTestAgent({ target: a.target, agentId: "mover", zoneId: "zm" });
    agents.push(fresh);
    try {
      expect((await fresh.waitFor("welcome", undefined, 15_000)).hubId).toBe("xa");
      const ended = await old.ended;
      expect(ended.details).toContain("connected to hub xa");
      await fresh.waitFor("save", (m) => m.assignments.some((x) => x.name === "acct-m" && x.caching), 15_000);
      await eventually(async () => {
        const rows = (await cluster.holders()).get("acct-m") ?? [];
        expect(rows).toEqual([{ agentId: "mover", caching: true, hubId: "xa" }]);
      }, 15_000);
    } finally {
      watching = false;
      await watch;
    }
    // Handed over without a detour through ORPHANED.
    expect(statuses).toEqual(["ACTIVE"]);
  });

  it("an operation forwarded to B whose agent drops before answering is sent again to the agent's new stream on A, and answered once", async () => {
    const [a, b] = cluster.replicas as [Cluster["replicas"][0], Cluster["replicas"][0]];
    // One agent process whose streams come and go: it runs each operation id once.
    const runs = new Map<string, number>();
    const onOperation = (op: { operationId: string }, first: boolean) => {
      runs.set(op.operationId, (runs.get(op.operationId) ?? 0) + (first ? 1 : 0));
      return first ? ("silent" as const) : { outcome: "OK" as const, result: { ranOnce: true } };
    };
    const before = connectTestAgent({ target: b.target, agentId: "hopper", zoneId: "zh", onOperation: (op) => onOperation(op, true) });
    agents.push(before);
    await before.waitFor("welcome", undefined, 15_000);
    expect((await call(a.url, "POST", "/armory/accounts/dynamic", { name: "acct-h", zoneId: "zh", kubeconfigFile: "/k/h" })).status).toBe(202);
    expect((await call(a.url, "PATCH", "/armory/accounts/dynamic", [{ name: "acct-h", state: "ACTIVE" }])).status).toBe(202);
    await eventually(async () => expect((await cluster.statuses()).get("acct-h")).toBe("ACTIVE"), 15_000);

    const pending = call(a.url, "POST", "/armory/operations", { account: "acct-h", kind: "deploy", payload: {} });
    const sent = await before.waitFor("operation", undefined, 15_000);
    before.cancel();
    await before.ended;
    const after = connectTestAgent({ target: a.target, agentId: "hopper", zoneId: "zh", onOperation: (op) => onOperation(op, false) });
    agents.push(after);
    const again = await after.waitFor("operation", undefined, 15_000);
    expect(again.operationId).toBe(sent.operationId);
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ operationId: sent.operationId, agentId: "hopper", outcome: "OK", result: { ranOnce: true } });
    expect(runs.get(sent.operationId)).toBe(1);
  });
});
