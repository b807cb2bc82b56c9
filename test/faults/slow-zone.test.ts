import { describe, expect, it } from "vitest";
import { DATABASE_KINDS } from "../support/databases.js";
import { definition, useScenario, type Scenario } from "../hub/support/hub-scenario.js";
import { eventually } from "../support/eventually.js";
import type { TestAgent } from "../hub/support/test-agent.js";

const ACCOUNTS = 15;
const OPERATIONS = 10;
/** The "answer after 20 s" against the default 30 s deadlines, scaled down; this file's deadlines (4 s) leave room for a loaded machine. */
const LATE_MS = 1_300;

/** Answers every account message `LATE_MS` after it arrived, as an agent stuck on a slow cluster API would. */
function answerLate(agent: TestAgent): () => void {
  let seen = 0;
  const timers: NodeJS.Timeout[] = [];
  const poll = setInterval(() => {
    for (const m of agent.received.slice(seen)) {
      if (m.kind !== "add" && m.kind !== "save" && m.kind !== "delete") continue;
      const names = m.kind === "delete" ? m.names : m.assignments.map((a) => a.name);
      timers.push(
        setTimeout(() => {
          for (const accountName of names) agent.send({ accountResult: { requestId: m.requestId, accountName, outcome: "OUTCOME_OK", message: "" } });
        }, LATE_MS),
      );
    }
    seen = agent.received.length;
  }, 20);
  return () => {
    clearInterval(poll);
    for (const t of timers) clearTimeout(t);
  };
}

/** Activates `names` and waits until all are ACTIVE; then runs operations on them. Milliseconds of each. */
async function measure(s: Scenario, names: string[]): Promise<{ activationMs: number; operationMs: number }> {
  for (const name of names) expect((await s.rest("POST", "/armory/accounts/dynamic", definition(name, "fast"))).status).toBe(202);
  const t0 = performance.now();
  expect((await s.rest("PATCH", "/armory/accounts/dynamic", names.map((name) => ({ name, state: "ACTIVE" })))).status).toBe(202);
  await eventually(async () => {
    const shown = await Promise.all(names.map((n) => s.account(n)));
    const off = shown.filter((a) => a.status !== "ACTIVE");
    // On a timeout the message says where the first ones stood.
    expect(off.length, JSON.stringify(off.slice(0, 2).map((a) => [a.name, a.status, a.lastAssignmentMsg, a.agents]))).toBe(0);
  }, 15_000);
  const activationMs = performance.now() - t0;
  const t1 = performance.now();
  for (let i = 0; i < OPERATIONS; i++) {
    expect((await s.rest("POST", "/armory/operations", { account: names[i % names.length], kind: "get", payload: {} })).status).toBe(200);
  }
  return { activationMs, operationMs: (performance.now() - t1) / OPERATIONS };
}

/**
 * Failure isolation (issue 11, item 4): a zone whose agents never answer, or answer late, must not delay the other
 * zones' assignments or operations. Both runs are measured in this one test, on the same hub; the
 * ratio allows for a loaded machine, the absolute slack for very small baselines.
 */
describe.each(DATABASE_KINDS)("a zone that never answers, or answers late, on %s", (kind) => {
  // PINGs every second, not every 200 ms: on a loaded machine a late PING answer cuts every agent of the shared connection.
  const scenario = useScenario(kind, { "dynamicAccounts.assignTimeout": "4s", operationTimeout: "4s", "heartbeat.interval": "1s" });

  it("does not slow the other zones' activations and operations", async () => {
    const s = scenario();
    for (const id of ["f-1", "f-2"]) await s.connect({ agentId: id, zoneId: "fast" });
    const baseline = await measure(s, Array.from({ length: ACCOUNTS }, (_, i) => `base-${i}`));

    for (const id of ["s-1", "s-2", "s-3"]) await s.connect({ agentId: id, zoneId: "slow", onAccount: () => "silent", onOperation: () => "silent" });
    const slowNames = Array.from({ length: ACCOUNTS * 2 }, (_, i) => `slow-${i}`);
    for (const name of slowNames) expect((await s.rest("POST", "/armory/accounts/dynamic", definition(name, "slow"))).status).toBe(202);
    expect((await s.rest("PATCH", "/armory/accounts/dynamic", slowNames.map((name) => ({ name, state: "ACTIVE" })))).status).toBe(202);
    // Operations to the silent zone wait for their timeout while the fast zone works.
    const stuckOps = Array.from({ length: 5 }, (_, i) => s.rest("POST", "/armory/operations", { account: slowNames[i], kind: "get", payload: {} }));
    const withSlow = await measure(s, Array.from({ length: ACCOUNTS }, (_, i) => `next-${i}`));
    expect((await Promise.all(stuckOps)).map((r) => r.status).every((st) => st === 503 || st === 504)).toBe(true);
    // Still waiting for the silent zone, or (on a slow machine, after assignTimeout) taken by the fast zone as fallback.
    const slow0 = await s.account("slow-0");
    if (slow0.status === "ACTIVE") expect(slow0.agents.every((h) => h.agentId.startsWith("f-"))).toBe(true);
    else expect(slow0.status).toBe("ACTIVATING");

    const ratio = { activation: withSlow.activationMs / baseline.activationMs, operation: withSlow.operationMs / baseline.operationMs };
    console.log(
      `failure isolation (${kind}): activation of ${ACCOUNTS} ${baseline.activationMs.toFixed(0)} → ${withSlow.activationMs.toFixed(0)} ms (×${ratio.activation.toFixed(2)}), ` +
        `operation ${baseline.operationMs.toFixed(1)} → ${withSlow.operationMs.toFixed(1)} ms (×${ratio.operation.toFixed(2)}) with a silent zone`,
    );
    expect(withSlow.activationMs).toBeLessThan(3 * baseline.activationMs + 300);
    expect(withSlow.operationMs).toBeLessThan(3 * baseline.operationMs + 30);
  });

  it("does not slow the other zones while a zone's agents answer late, and takes the late answers", async () => {
    const s = scenario();
    for (const id of ["f-1", "f-2"]) await s.connect({ agentId: id, zoneId: "fast" });
    const baseline = await measure(s, Array.from({ length: ACCOUNTS }, (_, i) => `base-${i}`));

    const late = await Promise.all(
      ["l-1", "l-2", "l-3"].map((id) =>
        s.connect({ agentId: id, zoneId: "late", onAccount: () => "silent", onOperation: () => new Promise((resolve) => setTimeout(() => resolve({ outcome: "OK" }), LATE_MS)) }),
      ),
    );
    const stops = late.map(answerLate);
    try {
      const lateNames = Array.from({ length: ACCOUNTS * 2 }, (_, i) => `late-${i}`);
      for (const name of lateNames) expect((await s.rest("POST", "/armory/accounts/dynamic", definition(name, "late"))).status).toBe(202);
      expect((await s.rest("PATCH", "/armory/accounts/dynamic", lateNames.map((name) => ({ name, state: "ACTIVE" })))).status).toBe(202);
      // Operations to the late zone are answered LATE_MS later while the fast zone works.
      const lateOps = Array.from({ length: 5 }, (_, i) => s.rest("POST", "/armory/operations", { account: lateNames[i], kind: "get", payload: {} }));
      const withLate = await measure(s, Array.from({ length: ACCOUNTS }, (_, i) => `next-${i}`));
      expect((await Promise.all(lateOps)).map((r) => r.status)).toEqual(Array(5).fill(200));
      // The late answers count: the late zone's accounts end ACTIVE, on their own agents (an answer
      // a loaded machine delays past assignTimeout sends that account to the fast zone instead).
      await eventually(async () => {
        const shown = await Promise.all(lateNames.map((n) => s.account(n)));
        expect(shown.filter((a) => a.status !== "ACTIVE").map((a) => a.name)).toEqual([]);
        expect(shown.some((a) => a.agents.length > 0 && a.agents.every((h) => h.agentId.startsWith("l-")))).toBe(true);
      }, 8_000);

      const ratio = { activation: withLate.activationMs / baseline.activationMs, operation: withLate.operationMs / baseline.operationMs };
      console.log(
        `failure isolation (${kind}): activation of ${ACCOUNTS} ${baseline.activationMs.toFixed(0)} → ${withLate.activationMs.toFixed(0)} ms (×${ratio.activation.toFixed(2)}), ` +
          `operation ${baseline.operationMs.toFixed(1)} → ${withLate.operationMs.toFixed(1)} ms (×${ratio.operation.toFixed(2)}) with a zone answering after ${LATE_MS} ms`,
      );
      expect(withLate.activationMs).toBeLessThan(3 * baseline.activationMs + 300);
      expect(withLate.operationMs).toBeLessThan(3 * baseline.operationMs + 30);
    } finally {
      for (const stop of stops) stop();
    }
  });
});
