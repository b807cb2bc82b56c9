import { gzipSync } from "node:zlib";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { DATABASE_KINDS } from "../support/databases.js";
import { definition, useScenario, type Scenario } from "./support/hub-scenario.js";
import { eventually } from "../support/eventually.js";

const LIMITS = {
  "limits.helloTimeout": "300ms",
  "limits.maxStaticAccounts": 3,
  "limits.maxMessageBytes": "256KiB",
};

async function tableCounts(s: Scenario): Promise<{ agents: number; accounts: number }> {
  const [a] = await s.hub.app.database.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM kubesvc_agents`);
  const [b] = await s.hub.app.database.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM kubesvc_accounts`);
  return { agents: Number(a?.n), accounts: Number(b?.n) };
}

describe.each(DATABASE_KINDS)("edge limits on %s", (kind) => {
  const scenario = useScenario(kind, LIMITS);

  it("ends a stream that sends no hello within limits.helloTimeout with DEADLINE_EXCEEDED", async () => {
    const s = scenario();
    const started = Date.now();
    const agent = s.connectRaw({ agentId: "mute", zoneId: "a", firstMessage: null });
    const ended = await agent.ended;
    expect(ended.code).toBe(GrpcStatus.DEADLINE_EXCEEDED);
    expect(ended.details).toContain("hello");
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(await tableCounts(s)).toEqual({ agents: 0, accounts: 0 });
  });

  const badHellos: [string, Record<string, unknown>, string][] = [
    ["a NUL in agent_id", { agentId: "bad\u0000id", zoneId: "a" }, "hello.agent_id"],
    ["a slash in agent_id", { agentId: "pods/x", zoneId: "a" }, "hello.agent_id"],
    ["an agent_id of 300 characters", { agentId: "x".repeat(300), zoneId: "a" }, "hello.agent_id"],
    ["a control character in zone_id", { agentId: "z-1", zoneId: "eu\u0007west" }, "hello.zone_id"],
    ["too many static accounts", { agentId: "s-1", zoneId: "a", staticAccounts: ["s1", "s2", "s3", "s4"].map((name) => ({ name, config: {} })) }, "hello.static_accounts"],
    ["a static account named with a NUL", { agentId: "s-2", zoneId: "a", staticAccounts: [{ name: "ok" }, { name: "b\u0000d" }] }, "hello.static_accounts[1].name"],
    [
      "a static definition with a NUL",
      { agentId: "s-3", zoneId: "a", staticAccounts: [{ name: "s-nul", config: { fields: { kubeconfigFile: { stringValue: "/k\u0000" } } } }] },
      "hello.static_accounts[0].config.kubeconfigFile",
    ],
    [
      "a static definition over 64 KiB",
      { agentId: "s-4", zoneId: "a", staticAccounts: [{ name: "s-big", config: { fields: { blob: { stringValue: "x".repeat(70_000) } } } }] },
      "hello.static_accounts[0].config",
    ],
    ["65 labels", { agentId: "l-1", zoneId: "a", labels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, "v"])) }, "hello.labels"],
    ["a label of 300 characters", { agentId: "l-2", zoneId: "a", labels: { pod: "v".repeat(300) } }, 'hello.labels["pod"]'],
    ["a NUL in version", { agentId: "v-1", zoneId: "a", version: "1\u0000" }, "hello.version"],
  ];
  it.each(badHellos)("refuses a hello with %s with INVALID_ARGUMENT naming the field, registering nothing", async (_what, hello, field) => {
    const s = scenario();
    const agent = s.connectRaw({ agentId: "", zoneId: "", firstMessage: { hello: { version: "t", ...hello } } });
    const ended = await agent.ended;
    expect(ended.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(ended.details).toContain(field);
    expect(agent.received).toEqual([]);
    expect(await tableCounts(s)).toEqual({ agents: 0, accounts: 0 });
  });

  it("refuses an agent message larger than limits.maxMessageBytes with RESOURCE_EXHAUSTED, and serves others", async () => {
    const s = scenario();
    const big = s.connectRaw({ agentId: "huge", zoneId: "a", firstMessage: { hello: { agentId: "huge", zoneId: "a", labels: { blob: "x".repeat(300 * 1024) } } } });
    expect((await big.ended).code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    const fine = await s.connect({ agentId: "fine", zoneId: "a" });
    expect(fine.received[0]?.kind).toBe("welcome");
  });

  it("bounds Connect messages after decompression: a small gzip body that inflates past the limit is refused", async () => {
    const s = scenario();
    const json = JSON.stringify({ name: "zip", config: { blob: "x".repeat(400 * 1024) } });
    const compressed = gzipSync(json);
    expect(compressed.length).toBeLessThan(10 * 1024);
    const res = await fetch(`${s.hub.url}/agenthub.v1.AccountsService/GetAccount`, {
      method: "POST",
      headers: { "content-type": "application/json", "content-encoding": "gzip", "connect-protocol-version": "1" },
      body: compressed,
    });
    const body = (await res.json()) as { code: string; message: string };
    expect(body.code).toBe("resource_exhausted");
    expect(body.message).toContain("decompression");
    expect(await tableCounts(s)).toEqual({ agents: 0, accounts: 0 });
  });

  it("stores agent text cut to 1,024 characters without NUL or control characters", async () => {
    const s = scenario();
    const message = "dial tcp\u0000 10.0.0.1:443:\u001b[31m i/o timeout " + "y".repeat(5000);
    await s.connect({ agentId: "t-1", zoneId: "a", onAccount: () => ({ outcome: "ERROR", message }) });
    await s.createActive(definition("t-acc", "a"));
    const account = await eventually(async () => {
      const a = await s.account("t-acc");
      expect(a.status).toBe("FAILED");
      return a;
    });
    expect(account.lastAssignmentMsg).toContain("dial tcp  10.0.0.1:443: [31m i/o timeout");
    expect(account.lastAssignmentMsg).not.toMatch(/\p{Cc}/u);
    const agentText = account.lastAssignmentMsg.slice(account.lastAssignmentMsg.indexOf("dial tcp"));
    expect([...agentText].length).toBe(1024);
  });

  it("cleans operation messages and results from agents", async () => {
    const s = scenario();
    await s.connect({
      agentId: "o-1",
      zoneId: "a",
      onOperation: () => ({ outcome: "ERROR", message: `bad\u0000${"z".repeat(2000)}`, result: { "k\u0000": "v\u0000w" } }),
    });
    await s.createActive(definition("o-acc", "a"));
    await eventually(async () => expect((await s.account("o-acc")).status).toBe("ACTIVE"));
    const res = await s.rest("POST", "/armory/operations", { account: "o-acc", kind: "get", payload: {} });
    expect(res.status).toBe(200);
    const body = res.json as { message: string; result: Record<string, unknown> };
    expect(body.message.startsWith("bad z")).toBe(true);
    expect(body.message).toHaveLength(1024);
    expect(body.result).toEqual({ k: "vw" });
  });

  it("throttles then disconnects an agent that floods unknown request ids, without slowing another agent's operations", async () => {
    const s = scenario();
    await s.connect({ agentId: "calm", zoneId: "calm" });
    await s.createActive(definition("calm-acc", "calm"));
    await eventually(async () => expect((await s.account("calm-acc")).status).toBe("ACTIVE"));
    const flood = await s.connect({ agentId: "flood", zoneId: "f" });
    for (let i = 0; i < 2_000; i++) flood.send({ accountResult: { requestId: `nope-${i}`, accountName: "calm-acc", outcome: "OUTCOME_OK", message: "" } });
    const ended = await flood.ended;
    expect(ended.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(ended.details).toContain("did not ask for");
    // The stray answers changed nothing, and the calm agent is still served.
    const res = await s.rest("POST", "/armory/operations", { account: "calm-acc", kind: "get", payload: {} });
    expect(res.status).toBe(200);
    expect((await s.account("calm-acc")).agents.map((a) => a.agentId)).toEqual(["calm"]);
  });

  it("keeps an agent that answers, late, 150 messages a later one replaced: those answers are owed, not strays", async () => {
    const s = scenario();
    const agent = await s.connect({ agentId: "late", zoneId: "late", onAccount: () => "silent" });
    const names = Array.from({ length: 150 }, (_, i) => `late-${i}`);
    expect((await s.rest("POST", "/armory/accounts/dynamic", names.map((name) => definition(name, "late")))).status).toBe(202);
    expect((await s.rest("PATCH", "/armory/accounts/dynamic", names.map((name) => ({ name, state: "ACTIVE" })))).status).toBe(202);
    const assigned = (kind: "add" | "save") =>
      agent.received.flatMap((m) => (m.kind === kind ? m.assignments.map((a) => ({ requestId: m.requestId, name: a.name })) : []));
    await eventually(() => expect(assigned("add")).toHaveLength(150));
    // New fields while ACTIVATING reach the holder at once, as SaveAccounts asking again.
    expect((await s.rest("PATCH", "/armory/accounts/dynamic", names.map((name) => ({ name, state: "ACTIVE", kubeconfigFile: `/kube/${name}-v2.yaml` })))).status).toBe(202);
    await eventually(() => expect(assigned("save")).toHaveLength(150));
    // The agent works through its backlog in order: first the messages the later ones replaced.
    for (const { requestId, name } of [...assigned("add"), ...assigned("save")]) {
      agent.send({ accountResult: { requestId, accountName: name, outcome: "OUTCOME_OK", message: "" } });
    }
    await eventually(async () => {
      const listed = await s.rest("GET", "/armory/accounts?zoneId=late&status=ACTIVE&limit=1");
      expect((listed.json as { total: number }).total).toBe(150);
    }, 10_000);
    const stillOpen = await Promise.race([agent.ended.then(() => false), new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 200))]);
    expect(stillOpen).toBe(true);
  });

  it("refuses a REST request naming more than 1,000 accounts with 400 naming the limit, writing nothing", async () => {
    const s = scenario();
    const many = Array.from({ length: 1001 }, (_, i) => definition(`many-${i}`));
    const created = await s.rest("POST", "/armory/accounts/dynamic", many);
    expect(created.status).toBe(400);
    expect(JSON.stringify(created.json)).toContain("at most 1000");
    const patched = await s.rest("PATCH", "/armory/accounts/dynamic", many.map((d) => ({ name: d.name, state: "ACTIVE" })));
    expect(patched.status).toBe(400);
    const deleted = await s.rest("DELETE", "/armory/accounts", many.map((d) => d.name));
    expect(deleted.status).toBe(400);
    expect(JSON.stringify(deleted.json)).toContain("at most 1000");
    expect((await tableCounts(s)).accounts).toBe(0);
    const ok = await s.rest("POST", "/armory/accounts/dynamic", many.slice(0, 1000));
    expect(ok.status).toBe(202);
  });
});
