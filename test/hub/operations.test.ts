import { describe, expect, it } from "vitest";
import { DATABASE_KINDS } from "../support/databases.js";
import { definition, useScenario, type Scenario } from "./support/hub-scenario.js";
import { eventually } from "../support/eventually.js";
import { createManualClock } from "../support/manual-clock.js";

interface OperationAnswerJson {
  operationId: string;
  agentId: string;
  outcome: string;
  message: string;
  result: Record<string, unknown>;
}

async function activeWith(s: Scenario, name: string, agents: number) {
  return eventually(async () => {
    const account = await s.account(name);
    expect(account.status).toBe("ACTIVE");
    expect(account.agents).toHaveLength(agents);
    return account;
  });
}

describe.each(DATABASE_KINDS)("operations on %s", (kind) => {
  // operationTimeout runs on this clock: the test moves it.
  const clock = createManualClock();
  const scenario = useScenario(kind, {}, clock);

  it("sends operations round-robin to the operations-role holders and returns the agent's answer", async () => {
    const s = scenario();
    for (const id of ["a-1", "a-2", "a-3"]) await s.connect({ agentId: id, zoneId: "a" });
    await s.createActive(definition("ops-1", "a"));
    const account = await activeWith(s, "ops-1", 3);
    const caching = account.agents.find((h) => h.caching)?.agentId;
    const operators = account.agents.filter((h) => !h.caching).map((h) => h.agentId);

    const answers: OperationAnswerJson[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await s.rest("POST", "/armory/operations", { account: "ops-1", kind: "deploy", payload: { manifest: { kind: "Pod" }, n: i } });
      expect(res.status).toBe(200);
      answers.push(res.json as OperationAnswerJson);
    }
    expect(answers.map((a) => a.agentId)).toEqual([operators[0], operators[1], operators[0], operators[1]]);
    expect(answers.map((a) => a.agentId)).not.toContain(caching);
    expect(answers[1]).toEqual({
      operationId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      agentId: operators[1],
      outcome: "OK",
      message: "",
      result: { echo: { manifest: { kind: "Pod" }, n: 1 }, agent: operators[1] },
    });
    // The agent saw each operation with its id, account, kind and payload.
    const agent = s.agents.find((a) => a.agentId === operators[0])!;
    const ops = agent.received.filter((m) => m.kind === "operation");
    expect(ops).toHaveLength(2);
    expect(ops[0]).toMatchObject({ operationId: answers[0]?.operationId, account: "ops-1", opKind: "deploy", payload: { manifest: { kind: "Pod" }, n: 0 } });
  });

  it("uses the caching holder only when it holds the account alone", async () => {
    const s = scenario();
    await s.connect({ agentId: "solo-1", zoneId: "solo" });
    await s.createActive(definition("ops-solo", "solo"));
    await activeWith(s, "ops-solo", 1);
    const res = await s.rest("POST", "/armory/operations", { account: "ops-solo", kind: "get", payload: {} });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ agentId: "solo-1", outcome: "OK" });
  });

  it("returns an operation that failed on the cluster as an answer, over Connect as well as REST", async () => {
    const s = scenario();
    await s.connect({
      agentId: "err-1",
      zoneId: "e",
      onOperation: () => ({ outcome: "ERROR", message: "forbidden: cannot create pods", result: { reason: "Forbidden" } }),
    });
    await s.createActive(definition("ops-err", "e"));
    await activeWith(s, "ops-err", 1);
    const res = await fetch(`${s.hub.url}/agenthub.v1.OperationService/Execute`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ account: "ops-err", kind: "deploy", payload: { a: 1 } }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ agentId: "err-1", outcome: "ERROR", message: "forbidden: cannot create pods", result: { reason: "Forbidden" } });
  });

  it("answers 504 when the agent does not answer within operationTimeout", async () => {
    const s = scenario();
    const slow = await s.connect({ agentId: "slow-1", zoneId: "s", onOperation: () => "silent" });
    await s.createActive(definition("ops-slow", "s"));
    await activeWith(s, "ops-slow", 1);
    let answered = false;
    const pending = s.rest("POST", "/armory/operations", { account: "ops-slow", kind: "deploy", payload: {} }).finally(() => (answered = true));
    await slow.waitFor("operation");
    // operationTimeout is 400ms of the test's clock.
    await clock.advance(399);
    expect(answered).toBe(false);
    await clock.advance(1);
    const res = await pending;
    expect(res.status).toBe(504);
    expect(res.json).toMatchObject({ code: "deadline_exceeded", message: expect.stringMatching(/did not answer operation .* within 400ms/) });
  });

  it("answers 503 when no agent holds the account and 404 for an unknown account", async () => {
    const s = scenario();
    await s.createActive(definition("ops-orphan", "nowhere"));
    await eventually(async () => expect((await s.account("ops-orphan")).status).toBe("ORPHANED"));
    const orphan = await s.rest("POST", "/armory/operations", { account: "ops-orphan", kind: "deploy", payload: {} });
    expect(orphan.status).toBe(503);
    expect(orphan.json).toMatchObject({ code: "unavailable", message: "account ops-orphan is ORPHANED; no agent serves it" });

    expect((await s.rest("POST", "/armory/accounts/dynamic", definition("ops-off"))).status).toBe(202);
    expect((await s.rest("POST", "/armory/operations", { account: "ops-off", kind: "x", payload: {} })).status).toBe(503);

    const unknown = await s.rest("POST", "/armory/operations", { account: "no-such-account", kind: "deploy", payload: {} });
    expect(unknown.status).toBe(404);
    expect(unknown.json).toMatchObject({ code: "not_found", message: "account no-such-account not found" });
  });

  it("answers 504 when the agent disconnects before answering and does not come back within operationTimeout", async () => {
    const s = scenario();
    const agent = await s.connect({ agentId: "drop-1", zoneId: "d", onOperation: () => "silent" });
    await s.createActive(definition("ops-drop", "d"));
    await activeWith(s, "ops-drop", 1);
    const pending = s.rest("POST", "/armory/operations", { account: "ops-drop", kind: "deploy", payload: {} });
    await agent.waitFor("operation");
    agent.cancel();
    // Once the hub has seen the stream end, the operation waits for the agent's return until
    // operationTimeout (400ms of the test's clock) runs out.
    await eventually(async () => expect(((await s.rest("GET", "/armory/agents")).json as { agentId: string }[]).map((a) => a.agentId)).not.toContain("drop-1"));
    await clock.advance(400);
    const res = await pending;
    expect(res.status).toBe(504);
    expect(res.json).toMatchObject({ code: "deadline_exceeded", message: expect.stringContaining("agent drop-1 disconnected before answering operation") });
  });
});
