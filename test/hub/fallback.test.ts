import { describe, expect, it } from "vitest";
import { DATABASE_KINDS } from "../support/databases.js";
import { definition, useScenario, type Scenario } from "./support/hub-scenario.js";
import { eventually } from "../support/eventually.js";
import { createManualClock } from "../support/manual-clock.js";
import type { AccountAnswer, TestAgent } from "./support/test-agent.js";

/** Every account message an agent received for one account, as [kind, caching, fallbackFromZone]. */
function history(agent: TestAgent, account: string): [string, boolean | undefined, string][] {
  const out: [string, boolean | undefined, string][] = [];
  for (const m of agent.received) {
    if (m.kind === "add" || m.kind === "save") {
      for (const a of m.assignments) if (a.name === account) out.push([m.kind, a.caching, m.fallbackFromZone]);
    }
    if (m.kind === "delete" && m.names.includes(account)) out.push(["delete", undefined, ""]);
  }
  return out;
}

/** The agent's history for the account, once it has arrived (messages go out after the batch commits). */
async function expectHistory(agent: TestAgent, account: string, expected: [string, boolean | undefined, string][]): Promise<void> {
  await eventually(() => expect(history(agent, account)).toEqual(expected));
}

const unreachable = (message: string): AccountAnswer => ({ outcome: "UNREACHABLE", message });

async function status(s: Scenario, name: string, expected: string) {
  return eventually(async () => {
    const account = await s.account(name);
    expect(account.status, account.lastAssignmentMsg).toBe(expected);
    return account;
  });
}

describe.each(DATABASE_KINDS)("fallback on %s", (kind) => {
  // Rounds are dynamicAccounts.retryFrequency (150ms) apart on this clock: the test moves it.
  const clock = createManualClock();
  const scenario = useScenario(kind, {}, clock);

  it("offers the account to another zone with fallback_from_zone when its zone answers UNREACHABLE", async () => {
    const s = scenario();
    const a1 = await s.connect({
      agentId: "a-1",
      zoneId: "a",
      onAccount: (_name, k) => (k === "delete" ? { outcome: "OK" } : unreachable("dial tcp 10.0.0.1:443: i/o timeout")),
    });
    const b1 = await s.connect({ agentId: "b-1", zoneId: "b" });
    await s.createActive(definition("fb-1", "a"));
    const account = await status(s, "fb-1", "ACTIVE");

    await expectHistory(a1, "fb-1", [
      ["add", true, ""],
      ["delete", undefined, ""],
    ]);
    await expectHistory(b1, "fb-1", [["save", true, "a"]]);
    expect(account.agents).toEqual([{ agentId: "b-1", caching: true }]);
    expect(account.lastAssignmentMsg).toBe(
      "agent a-1 (zone a) could not reach the cluster: dial tcp 10.0.0.1:443: i/o timeout; moved to zone b, assigned to Agent b-1 for caching",
    );
    // The fallback placement lasts: nothing moves it back by itself.
    const a2 = await s.connect({ agentId: "a-2", zoneId: "a" });
    // Longer than every retry and sweep of the hub.
    await clock.advance(2_000);
    await expectHistory(a2, "fb-1", []);
    expect((await s.account("fb-1")).agents).toEqual([{ agentId: "b-1", caching: true }]);
  });

  it("drops a holder that reports UNREACHABLE later, unasked, and keeps the account with the others", async () => {
    const s = scenario();
    const a1 = await s.connect({ agentId: "a-1", zoneId: "a" });
    const a2 = await s.connect({ agentId: "a-2", zoneId: "a" });
    await s.createActive(definition("lost-1", "a"));
    const account = await status(s, "lost-1", "ACTIVE");
    const [cachingAgent, otherAgent] = account.agents[0]?.caching === true ? [a1, a2] : [a2, a1];

    cachingAgent.reportUnreachable("lost-1", "connection refused");
    await cachingAgent.waitFor("delete", (m) => m.names.includes("lost-1"));
    await otherAgent.waitFor("save", (m) => m.assignments.some((a) => a.name === "lost-1" && a.caching));
    await eventually(async () => {
      const after = await s.account("lost-1");
      expect(after.status).toBe("ACTIVE");
      expect(after.agents).toEqual([{ agentId: otherAgent.agentId, caching: true }]);
      expect(after.lastAssignmentMsg).toBe(
        `agent ${cachingAgent.agentId} (zone a) could not reach the cluster: connection refused; dropped it, Agent ${otherAgent.agentId} promoted to caching`,
      );
    });
  });

  it("falls back when the last holder reports UNREACHABLE unasked", async () => {
    const s = scenario();
    const a1 = await s.connect({ agentId: "a-1", zoneId: "a" });
    const b1 = await s.connect({ agentId: "b-1", zoneId: "b" });
    await s.createActive(definition("lost-2", "a"));
    await status(s, "lost-2", "ACTIVE");
    a1.reportUnreachable("lost-2", "no route to host");
    await b1.waitFor("save", (m) => m.fallbackFromZone === "a" && m.assignments.some((a) => a.name === "lost-2" && a.caching));
    await eventually(async () => {
      const after = await s.account("lost-2");
      expect(after.status).toBe("ACTIVE");
      expect(after.agents).toEqual([{ agentId: "b-1", caching: true }]);
    });
    await expectHistory(a1, "lost-2", [
      ["add", true, ""],
      ["delete", undefined, ""],
    ]);
  });

  it("turns FAILED after the first round and maxRetries more, and recovers with PATCH ACTIVE", async () => {
    const s = scenario();
    let reachable = false;
    const onAccount = (_name: string, k: "add" | "save" | "delete"): AccountAnswer =>
      k === "delete" || reachable ? { outcome: "OK" } : unreachable("x509: certificate signed by unknown authority");
    const a1 = await s.connect({ agentId: "a-1", zoneId: "a", onAccount });
    const b1 = await s.connect({ agentId: "b-1", zoneId: "b", onAccount });
    await s.createActive(definition("doomed-1", "a"));

    await eventually(async () => {
      const row = await s.row("doomed-1");
      expect(row?.status).toBe("ACTIVATING");
      expect(row?.failedCount).toBe(1);
    });
    // The second round waits for dynamicAccounts.retryFrequency.
    await clock.advance(149);
    expect(history(a1, "doomed-1")).toHaveLength(2);
    await clock.advance(1);
    const failed = await status(s, "doomed-1", "FAILED");
    expect(failed.agents).toEqual([]);
    expect(failed.lastAssignmentMsg).toBe(
      "agent b-1 (zone b) could not reach the cluster: x509: certificate signed by unknown authority; no zone could reach it in 2 rounds",
    );
    expect((await s.row("doomed-1"))?.failedCount).toBe(2);
    // Two rounds (maxRetries 1): own zone first, then zone b as fallback, each time.
    await expectHistory(a1, "doomed-1", [
      ["add", true, ""],
      ["delete", undefined, ""],
      ["add", true, ""],
      ["delete", undefined, ""],
    ]);
    await expectHistory(b1, "doomed-1", [
      ["save", true, "a"],
      ["delete", undefined, ""],
      ["save", true, "a"],
      ["delete", undefined, ""],
    ]);

    reachable = true;
    expect((await s.rest("PATCH", "/armory/accounts/dynamic", [{ name: "doomed-1", state: "ACTIVE" }])).status).toBe(202);
    const active = await status(s, "doomed-1", "ACTIVE");
    expect(active.agents).toEqual([{ agentId: "a-1", caching: true }]);
    expect(active.lastAssignmentMsg).toBe("successfully assigned to Agent a-1 for caching");
    expect((await s.row("doomed-1"))?.failedCount).toBe(0);
  });

  it("turns FAILED at once on OUTCOME_ERROR, without fallback", async () => {
    const s = scenario();
    const a1 = await s.connect({
      agentId: "a-1",
      zoneId: "a",
      onAccount: (_name, k) => (k === "delete" ? { outcome: "OK" } : { outcome: "ERROR", message: "invalid kubeconfig: no current-context" }),
    });
    const b1 = await s.connect({ agentId: "b-1", zoneId: "b" });
    await s.createActive(definition("bad-1", "a"));
    const failed = await status(s, "bad-1", "FAILED");
    expect(failed.agents).toEqual([]);
    expect(failed.lastAssignmentMsg).toBe("agent a-1 (zone a) rejected the account: invalid kubeconfig: no current-context");
    await expectHistory(a1, "bad-1", [
      ["add", true, ""],
      ["delete", undefined, ""],
    ]);
    await clock.advance(2_000);
    await expectHistory(b1, "bad-1", []);
  });

  it("sends an unpinned account whose zone cannot reach the cluster to the next least-loaded zone", async () => {
    const s = scenario();
    const failing = (name: string, k: "add" | "save" | "delete"): AccountAnswer => (k !== "delete" && name === "roamer" ? unreachable("timeout") : { outcome: "OK" });
    const a1 = await s.connect({ agentId: "a-1", zoneId: "a", onAccount: failing });
    const b1 = await s.connect({ agentId: "b-1", zoneId: "b", onAccount: failing });
    const c1 = await s.connect({ agentId: "c-1", zoneId: "c" });
    // Load zone c so that it comes last.
    await s.createActive(definition("weight-c", "c"));
    await status(s, "weight-c", "ACTIVE");
    await s.createActive(definition("roamer"));
    const account = await status(s, "roamer", "ACTIVE");
    expect(account.agents).toEqual([{ agentId: "c-1", caching: true }]);
    await expectHistory(a1, "roamer", [
      ["add", true, ""],
      ["delete", undefined, ""],
    ]);
    await expectHistory(b1, "roamer", [
      ["save", true, "a"],
      ["delete", undefined, ""],
    ]);
    await expectHistory(c1, "roamer", [["save", true, "b"]]);
    expect(account.lastAssignmentMsg).toBe("agent b-1 (zone b) could not reach the cluster: timeout; moved to zone c, assigned to Agent c-1 for caching");
  });
});
