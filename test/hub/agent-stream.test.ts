import { status as GrpcStatus } from "@grpc/grpc-js";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { DATABASE_KINDS } from "../support/databases.js";
import { definition, startScenario, statusesDuring, useScenario } from "./support/hub-scenario.js";
import { eventually } from "../support/eventually.js";
import { createManualClock } from "../support/manual-clock.js";

describe.each(DATABASE_KINDS)("agent stream on %s", (kind) => {
  // Heartbeats (the agents' and the hub's checks) keep to this clock: the test moves it.
  const clock = createManualClock();
  const scenario = useScenario(kind, {}, clock);

  it("answers hello with welcome first and lists the agent with live data", async () => {
    const s = scenario();
    const agent = await s.connect({ agentId: "w-1", zoneId: "west", labels: { pod: "w-1" } });
    expect(agent.received[0]).toEqual({ kind: "welcome", requestId: "", hubId: s.hub.app.hubId, heartbeatIntervalMs: 200, rejected: [] });
    const [listed] = await eventually(async () => {
      const agents = await s.agentList();
      expect(agents).toHaveLength(1);
      return agents;
    });
    expect(listed).toMatchObject({ agentId: "w-1", zoneId: "west", hubId: s.hub.app.hubId, accounts: 0, caching: 0 });
    expect(Date.parse(listed!.connectedAt)).not.toBeNaN();
    // last_heartbeat is refreshed in batches while the agent sends heartbeats (one interval at a time).
    await eventually(async () => {
      await clock.advance(200);
      const [now] = await s.agentList();
      expect(Date.parse(now!.lastHeartbeat)).toBeGreaterThan(Date.parse(listed!.lastHeartbeat));
    });
  });

  it("refuses a first message that is not hello with INVALID_ARGUMENT", async () => {
    const s = scenario();
    const agent = s.connectRaw({ agentId: "x", zoneId: "a", firstMessage: { heartbeat: {} } });
    const ended = await agent.ended;
    expect(ended.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(ended.details).toContain("hello");
    expect(agent.received).toEqual([]);
    expect(await s.agentList()).toEqual([]);
  });

  it("refuses a hello with an empty agent_id with INVALID_ARGUMENT", async () => {
    const s = scenario();
    const agent = s.connectRaw({ agentId: "", zoneId: "a" });
    const ended = await agent.ended;
    expect(ended.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(ended.details).toContain("agent_id");
    expect(await s.agentList()).toEqual([]);
  });

  it("replaces the older stream of a duplicate agent id without a detour through ORPHANED", async () => {
    const s = scenario();
    const first = await s.connect({ agentId: "dup-1", zoneId: "a" });
    await s.createActive(definition("dup-acc", "a"));
    await eventually(async () => expect((await s.account("dup-acc")).status).toBe("ACTIVE"));
    const before = await s.account("dup-acc");

    let second: ReturnType<typeof s.connectRaw> | undefined;
    const seen = await statusesDuring(s, "dup-acc", async () => {
      second = s.connectRaw({ agentId: "dup-1", zoneId: "a" });
      const ended = await first.ended;
      expect(ended.code).toBe(GrpcStatus.ABORTED);
      // The new stream is told at once what it holds, with its role.
      await second.waitFor("save", (m) => m.assignments.some((a) => a.name === "dup-acc" && a.caching));
      await new Promise((resolve) => setTimeout(resolve, 300));
    });
    expect(seen).toEqual(["ACTIVE"]);
    expect(second!.received[0]?.kind).toBe("welcome");
    const after = await s.account("dup-acc");
    expect(after.agents).toEqual([{ agentId: "dup-1", caching: true }]);
    expect(after.lastAssignmentMsg).toBe(before.lastAssignmentMsg);
    expect((await s.agentList()).map((a) => a.agentId)).toEqual(["dup-1"]);
  });

  it("closes the first of two hellos of one agent_id that land in the same batch (no zombie stream)", async () => {
    const s = scenario();
    // Sent back to back, both hellos reach the engine within its batch window.
    const first = s.connectRaw({ agentId: "twin-1", zoneId: "a" });
    const second = s.connectRaw({ agentId: "twin-1", zoneId: "a" });
    const winner = await Promise.race([first.waitFor("welcome").then(() => first), second.waitFor("welcome").then(() => second)]);
    const loser = winner === first ? second : first;
    const ended = await Promise.race([loser.ended, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 3_000))]);
    expect(ended?.code).toBe(GrpcStatus.ABORTED);
    expect(ended?.details).toContain("replaced");
    const agents = await s.agentList();
    expect(agents.map((a) => a.agentId)).toEqual(["twin-1"]);
  });

  it("treats an agent that stops sending heartbeats as gone after the missed limit", async () => {
    const s = scenario();
    const quiet = await s.connect({ agentId: "hb-1", zoneId: "hb" });
    const other = await s.connect({ agentId: "hb-2", zoneId: "hb" });
    await s.createActive(definition("hb-acc", "hb"));
    await eventually(async () => expect((await s.account("hb-acc")).status).toBe("ACTIVE"));
    expect(await s.holders("hb-acc")).toMatchObject([
      { agentId: "hb-1", caching: true },
      { agentId: "hb-2", caching: false },
    ]);

    quiet.stopHeartbeats();
    let quietEnded = false;
    void quiet.ended.then(() => (quietEnded = true));
    // 3 intervals of 200 ms, checked every 100 ms: its last heartbeat was at most one interval ago,
    // so 400 ms on it is still within the limit, and 700 ms on it is past it.
    await clock.advance(400);
    expect((await s.agentList()).map((a) => a.agentId)).toEqual(["hb-1", "hb-2"]);
    expect(quietEnded).toBe(false);
    await clock.advance(300);
    const ended = await quiet.ended;
    expect(ended.code).toBe(GrpcStatus.UNAVAILABLE);
    expect(ended.details).toContain("missed 3 heartbeats");

    await other.waitFor("save", (m) => m.assignments.some((a) => a.name === "hb-acc" && a.caching));
    const account = await s.account("hb-acc");
    expect(account.agents).toEqual([{ agentId: "hb-2", caching: true }]);
    expect(account.lastAssignmentMsg).toBe("agent hb-1 (zone hb) missed 3 heartbeats; Agent hb-2 promoted to caching");
    expect((await s.agentList()).map((a) => a.agentId)).toEqual(["hb-2"]);
  });

  it("releases what an agent held when it closes its stream", async () => {
    const s = scenario();
    const agent = await s.connect({ agentId: "bye-1", zoneId: "bye" });
    await s.createActive(definition("bye-acc", "bye"));
    await eventually(async () => expect((await s.account("bye-acc")).status).toBe("ACTIVE"));
    agent.end();
    expect((await agent.ended).code).toBe(GrpcStatus.OK);
    await eventually(async () => {
      const account = await s.account("bye-acc");
      expect(account.status).toBe("ORPHANED");
      expect(account.agents).toEqual([]);
      expect(account.lastAssignmentMsg).toBe("agent bye-1 (zone bye) disconnected; no agent of zone bye is connected");
    });
    expect(await s.agentList()).toEqual([]);
  });
});

describe.each(DATABASE_KINDS)("hub shutdown on %s", (kind) => {
  it("ends every agent stream with UNAVAILABLE and releases what the agents held", async () => {
    const s = await startScenario(kind);
    try {
      const a = await s.connect({ agentId: "sd-a", zoneId: "a", staticAccounts: [{ name: "sd-static", config: { kubeconfigFile: "/k" } }] });
      const b = await s.connect({ agentId: "sd-b", zoneId: "b" });
      await s.createActive(definition("sd-pinned", "a"));
      await s.createActive(definition("sd-unpinned"));
      await eventually(async () => {
        expect((await s.account("sd-pinned")).status).toBe("ACTIVE");
        expect((await s.account("sd-unpinned")).status).toBe("ACTIVE");
      });

      await s.hub.app.close();
      for (const agent of [a, b]) {
        const ended = await agent.ended;
        expect(ended.code).toBe(GrpcStatus.UNAVAILABLE);
        expect(ended.details).toContain("shutting down");
      }
      const rows = (q: string) => s.hub.app.database.rows<Record<string, unknown>>(sql.raw(q));
      expect(await rows("SELECT agent_id FROM kubesvc_agents")).toEqual([]);
      expect(await rows("SELECT account_name FROM kubesvc_assignments")).toEqual([]);
      expect(await rows("SELECT hub_id FROM kubesvc_hubs")).toEqual([]);
      const statuses = await rows("SELECT name, status, last_assignment_msg FROM kubesvc_accounts ORDER BY name");
      expect(statuses).toEqual([
        { name: "sd-pinned", status: "ORPHANED", last_assignment_msg: "agent sd-a (zone a) disconnected: the hub shut down; no agent of zone a is connected" },
        { name: "sd-static", status: "ORPHANED", last_assignment_msg: expect.stringContaining("agent sd-a (zone a) disconnected: the hub shut down; no agent holds this static account any more") },
        { name: "sd-unpinned", status: "ORPHANED", last_assignment_msg: expect.stringMatching(/^agent sd-[ab] \(zone [ab]\) disconnected: the hub shut down; no agent is connected$/) },
      ]);
    } finally {
      await s.stop();
    }
  });
});
