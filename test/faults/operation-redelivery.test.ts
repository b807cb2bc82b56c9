import { describe, expect, it } from "vitest";
import { DATABASE_KINDS } from "../support/databases.js";
import { definition, useScenario, type Scenario } from "../hub/support/hub-scenario.js";
import { eventually } from "../support/eventually.js";
import type { OperationAnswer, Received } from "../hub/support/test-agent.js";

type OperationMessage = Extract<Received, { kind: "operation" }>;

/**
 * An agent process that outlives its streams, as a real agent pod does: it runs each operation
 * once, remembers the answer by operation id, and answers a repeated id from memory (the
 * idempotence README.md's delivery rule asks of agents).
 */
function agentProcess() {
  const runs = new Map<string, number>();
  const answers = new Map<string, OperationAnswer>();
  return {
    runs,
    /** Runs the operation (once per id) and answers, or stays silent on the first stream's try. */
    handle(op: OperationMessage, answer: boolean): OperationAnswer {
      const known = answers.get(op.operationId);
      if (known !== undefined) return known;
      runs.set(op.operationId, (runs.get(op.operationId) ?? 0) + 1);
      const result: OperationAnswer = { outcome: "OK", result: { ran: op.opKind, payload: op.payload } };
      answers.set(op.operationId, result);
      return answer ? result : "silent";
    },
  };
}

async function activeOn(s: Scenario, name: string, agentId: string) {
  await eventually(async () => {
    const account = await s.account(name);
    expect(account.status).toBe("ACTIVE");
    expect(account.agents.map((a) => a.agentId)).toEqual([agentId]);
  });
}

/**
 * Issue 11 item 5: an operation whose caller still waits is sent again, with the same id, to the
 * agent's next stream when its stream ends before the answer; the caller gets one answer.
 */
describe.each(DATABASE_KINDS)("operation re-delivery on %s", (kind) => {
  // PINGs every second, not every 200 ms: a loaded machine must not cut the agents this file reconnects on purpose.
  const scenario = useScenario(kind, { operationTimeout: "8s", "heartbeat.interval": "1s" });

  it("sends an unanswered operation again to the agent's new stream, and the caller gets its one answer", async () => {
    const s = scenario();
    const pod = agentProcess();
    const first = await s.connect({ agentId: "redo-1", zoneId: "redo", onOperation: (op) => pod.handle(op, false) });
    await s.createActive(definition("redo-acct", "redo"));
    await activeOn(s, "redo-acct", "redo-1");

    const pending = s.rest("POST", "/armory/operations", { account: "redo-acct", kind: "deploy", payload: { replicas: 2 } });
    const sent = await first.waitFor("operation");
    // The agent ran it but its stream dropped before the answer left.
    first.cancel();
    await first.ended;
    const second = await s.connect({ agentId: "redo-1", zoneId: "redo", onOperation: (op) => pod.handle(op, true) });
    const again = await second.waitFor("operation");
    expect(again).toMatchObject({ operationId: sent.operationId, account: "redo-acct", opKind: "deploy", payload: { replicas: 2 } });

    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ operationId: sent.operationId, agentId: "redo-1", outcome: "OK", message: "", result: { ran: "deploy", payload: { replicas: 2 } } });
    expect(pod.runs.get(sent.operationId)).toBe(1);
    expect(second.received.filter((m) => m.kind === "operation")).toHaveLength(1);

    // A duplicate answer is a stray: it changes nothing, and the hub keeps serving the agent.
    second.send({ operationResult: { operationId: sent.operationId, outcome: "OUTCOME_ERROR", message: "late duplicate" } });
    const next = await s.rest("POST", "/armory/operations", { account: "redo-acct", kind: "get", payload: {} });
    expect(next.status).toBe(200);
    expect(next.json).toMatchObject({ agentId: "redo-1", outcome: "OK" });
  });

  it("does not send an operation again once its caller went away", async () => {
    const s = scenario();
    const pod = agentProcess();
    const first = await s.connect({ agentId: "gone-1", zoneId: "gone", onOperation: (op) => pod.handle(op, false) });
    await s.createActive(definition("gone-acct", "gone"));
    await activeOn(s, "gone-acct", "gone-1");

    const caller = new AbortController();
    const pending = fetch(`${s.hub.url}/armory/operations`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ account: "gone-acct", kind: "deploy", payload: {} }),
      signal: caller.signal,
    }).catch((err: unknown) => err);
    await first.waitFor("operation");
    caller.abort();
    expect(await pending).toBeInstanceOf(Error);
    first.cancel();
    await first.ended;

    const second = await s.connect({ agentId: "gone-1", zoneId: "gone", onOperation: (op) => pod.handle(op, true) });
    await activeOn(s, "gone-acct", "gone-1");
    // A later operation arrives on the new stream; the abandoned one never does.
    const later = await s.rest("POST", "/armory/operations", { account: "gone-acct", kind: "get", payload: {} });
    expect(later.status).toBe(200);
    expect(second.received.filter((m) => m.kind === "operation").map((m) => (m as OperationMessage).opKind)).toEqual(["get"]);
  });
});
