import { describe, expect, it } from "vitest";
import { DATABASE_KINDS } from "../support/databases.js";
import { eventually } from "../support/eventually.js";
import { createManualClock } from "../support/manual-clock.js";
import { definition, useScenario } from "./support/hub-scenario.js";

describe.each(DATABASE_KINDS)("per-request deadline (dynamicAccounts.assignTimeout) on %s", (kind) => {
  // The test moves time: deadlines and the pause between rounds pass only when it says so.
  const clock = createManualClock();
  const scenario = useScenario(kind, { "dynamicAccounts.assignTimeout": "300ms" }, clock);

  it("counts a holder that never answers AddAccounts as UNREACHABLE: the account falls back to another zone", async () => {
    const s = scenario();
    const silent = await s.connect({ agentId: "mute-1", zoneId: "a", onAccount: () => "silent" });
    await s.connect({ agentId: "b-1", zoneId: "b" });
    await s.createActive(definition("dl-1", "a"));
    await silent.waitFor("add", (m) => m.assignments.some((a) => a.name === "dl-1"));
    // Just short of the deadline nothing has moved.
    await clock.advance(299);
    const before = await s.account("dl-1");
    expect(before.status, before.lastAssignmentMsg).toBe("ACTIVATING");
    await clock.advance(1);
    const account = await eventually(async () => {
      const a = await s.account("dl-1");
      expect(a.status, a.lastAssignmentMsg).toBe("ACTIVE");
      return a;
    });
    expect(account.agents).toEqual([{ agentId: "b-1", caching: true }]);
    expect(account.lastAssignmentMsg).toContain("agent mute-1 (zone a)");
    expect(account.lastAssignmentMsg).toContain("did not answer within 300ms");
    expect(account.lastAssignmentMsg).toContain("moved to zone b");
  });

  it("turns an account whose only agent never answers FAILED after its rounds, saying the agent did not answer", async () => {
    const s = scenario();
    const mute = await s.connect({ agentId: "mute-2", zoneId: "c", onAccount: () => "silent" });
    await s.createActive(definition("dl-2", "c"));
    await mute.waitFor("add", (m) => m.assignments.some((a) => a.name === "dl-2"));
    await clock.advance(300);
    // Round one ended unanswered; the next round starts after dynamicAccounts.retryFrequency (150ms).
    await eventually(async () => expect((await s.row("dl-2"))?.failedCount).toBe(1));
    await clock.advance(150);
    await eventually(() => expect(mute.received.filter((m) => m.kind === "add")).toHaveLength(2));
    expect((await s.account("dl-2")).status).toBe("ACTIVATING");
    await clock.advance(300);
    const account = await eventually(async () => {
      const a = await s.account("dl-2");
      expect(a.status, a.lastAssignmentMsg).toBe("FAILED");
      return a;
    });
    expect(account.lastAssignmentMsg).toContain("agent mute-2 (zone c)");
    expect(account.lastAssignmentMsg).toContain("did not answer within 300ms");
  });

  it("finishes a deactivation whose holder never answers DeleteAccounts", async () => {
    const s = scenario();
    let answering = true;
    const late = await s.connect({ agentId: "late-1", zoneId: "d", onAccount: () => (answering ? { outcome: "OK" } : "silent") });
    await s.createActive(definition("dl-3", "d"));
    await eventually(async () => expect((await s.account("dl-3")).status).toBe("ACTIVE"));
    answering = false;
    expect((await s.rest("PATCH", "/armory/accounts", [{ name: "dl-3", state: "INACTIVE" }])).status).toBe(202);
    await late.waitFor("delete", (m) => m.names.includes("dl-3"));
    expect((await s.account("dl-3")).status).toBe("DEACTIVATING");
    await clock.advance(300);
    const account = await eventually(async () => {
      const a = await s.account("dl-3");
      expect(a.status).toBe("INACTIVE");
      return a;
    });
    expect(account.lastAssignmentMsg).toContain("did not answer within 300ms");
    expect(await s.holders("dl-3")).toEqual([]);
  });
});
