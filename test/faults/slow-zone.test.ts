import { describe, expect, it } from "vitest";
import { DATABASE_KINDS } from "../support/databases.js";
import { definition, useScenario, type Scenario } from "../hub/support/hub-scenario.js";
import { eventually } from "../support/eventually.js";

const ACCOUNTS = 15;
const OPERATIONS = 10;

/** Activates `names` and waits until all are ACTIVE; then runs operations on them. Milliseconds of each. */
async function measure(s: Scenario, names: string[]): Promise<{ activationMs: number; operationMs: number }> {
  for (const name of names) expect((await s.rest("POST", "/armory/accounts/dynamic", definition(name, "fast"))).status).toBe(202);
  const t0 = performance.now();
  expect((await s.rest("PATCH", "/armory/accounts/dynamic", names.map((name) => ({ name, state: "ACTIVE" })))).status).toBe(202);
  await eventually(async () => {
    const shown = await Promise.all(names.map((n) => s.account(n)));
    expect(shown.every((a) => a.status === "ACTIVE")).toBe(true);
  }, 15_000);
  const activationMs = performance.now() - t0;
  const t1 = performance.now();
  for (let i = 0; i < OPERATIONS; i++) {
    expect((await s.rest("POST", "/armory/operations", { account: names[i % names.length], kind: "get", payload: {} })).status).toBe(200);
  }
  return { activationMs, operationMs: (performance.now() - t1) / OPERATIONS };
}

/**
 * Failure isolation (issue 11, item 4): a zone whose agents never answer must not delay the other
 * zones' assignments or operations. Both runs are measured in this one test, on the same hub; the
 * ratio allows for a loaded machine, the absolute slack for very small baselines.
 */
describe.each(DATABASE_KINDS)("a zone that never answers, on %s", (kind) => {
  const scenario = useScenario(kind, { "dynamicAccounts.assignTimeout": "2s", operationTimeout: "2s" });

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
    expect((await s.account("slow-0")).status).toBe("ACTIVATING");

    const ratio = { activation: withSlow.activationMs / baseline.activationMs, operation: withSlow.operationMs / baseline.operationMs };
    console.log(
      `failure isolation (${kind}): activation of ${ACCOUNTS} ${baseline.activationMs.toFixed(0)} → ${withSlow.activationMs.toFixed(0)} ms (×${ratio.activation.toFixed(2)}), ` +
        `operation ${baseline.operationMs.toFixed(1)} → ${withSlow.operationMs.toFixed(1)} ms (×${ratio.operation.toFixed(2)}) with a silent zone`,
    );
    expect(withSlow.activationMs).toBeLessThan(3 * baseline.activationMs + 300);
    expect(withSlow.operationMs).toBeLessThan(3 * baseline.operationMs + 30);
  });
});
