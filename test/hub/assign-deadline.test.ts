import { describe, expect, it } from "vitest";
import { DATABASE_KINDS } from "../support/databases.js";
import { definition, eventually, useScenario } from "./support/hub-scenario.js";

describe.each(DATABASE_KINDS)("per-request deadline (dynamicAccounts.assignTimeout) on %s", (kind) => {
  const scenario = useScenario(kind, { "dynamicAccounts.assignTimeout": "300ms" });

  it("counts a holder that never answers AddAccounts as UNREACHABLE: the account falls back to another zone", async () => {
    const s = scenario();
    const silent = await s.connect({ agentId: "mute-1", zoneId: "a", onAccount: () => "silent" });
    await s.connect({ agentId: "b-1", zoneId: "b" });
    await s.createActive(definition("dl-1", "a"));
    await silent.waitFor("add", (m) => m.assignments.some((a) => a.name === "dl-1"));
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
    await s.connect({ agentId: "mute-2", zoneId: "c", onAccount: () => "silent" });
    await s.createActive(definition("dl-2", "c"));
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
    await s.connect({ agentId: "late-1", zoneId: "d", onAccount: () => (answering ? { outcome: "OK" } : "silent") });
    await s.createActive(definition("dl-3", "d"));
    await eventually(async () => expect((await s.account("dl-3")).status).toBe("ACTIVE"));
    answering = false;
    expect((await s.rest("PATCH", "/armory/accounts", [{ name: "dl-3", state: "INACTIVE" }])).status).toBe(202);
    const account = await eventually(async () => {
      const a = await s.account("dl-3");
      expect(a.status).toBe("INACTIVE");
      return a;
    });
    expect(account.lastAssignmentMsg).toContain("did not answer within 300ms");
    expect(await s.holders("dl-3")).toEqual([]);
  });
});
