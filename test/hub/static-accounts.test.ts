import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { DATABASE_KINDS } from "../support/databases.js";
import { definition, useScenario } from "./support/hub-scenario.js";
import { eventually } from "../support/eventually.js";
import { createManualClock } from "../support/manual-clock.js";

describe.each(DATABASE_KINDS)("static accounts on %s", (kind) => {
  // The cleanup of orphaned static accounts runs every cleanupAfter / 2 of the test's clock.
  const clock = createManualClock();
  const scenario = useScenario(kind, { "staticAccounts.cleanupAfter": "10s" }, clock);

  it("registers static accounts from hello and tells the agent its roles right after welcome", async () => {
    const s = scenario();
    const agent = await s.connect({
      agentId: "st-a-1",
      zoneId: "east",
      staticAccounts: [
        { name: "st-one", config: { kubeconfigFile: "/etc/kube/one", namespaces: ["default"] } },
        { name: "st-two", config: { serviceAccount: true } },
      ],
    });
    const roles = await agent.waitFor("save");
    expect(agent.received.indexOf(roles)).toBe(1);
    expect(roles.fallbackFromZone).toBe("");
    expect(roles.assignments.map((a) => [a.name, a.caching, a.zoneId]).sort()).toEqual([
      ["st-one", true, "east"],
      ["st-two", true, "east"],
    ]);
    expect(roles.assignments.find((a) => a.name === "st-one")?.config).toEqual({ name: "st-one", kubeconfigFile: "/etc/kube/one", namespaces: ["default"] });

    const one = await s.account("st-one");
    expect(one).toMatchObject({
      name: "st-one",
      source: "static-agent-config",
      zoneId: "east",
      status: "ACTIVE",
      agents: [{ agentId: "st-a-1", caching: true }],
      lastAssignmentMsg: "registered by agent st-a-1 (zone east) from its configuration; Agent st-a-1 for caching",
    });
    expect(await s.row("st-one")).toMatchObject({ origin: "static", source: "static-agent-config" });
    const list = await s.rest("GET", "/armory/accounts");
    expect((list.json as { items: { name: string }[] }).items.map((i) => i.name)).toEqual(["st-one", "st-two"]);
    const [listed] = await s.agentList();
    expect(listed).toMatchObject({ agentId: "st-a-1", accounts: 2, caching: 2 });
  });

  it("rejects static accounts whose names a hub-stored account has, in welcome", async () => {
    const s = scenario();
    expect((await s.rest("POST", "/armory/accounts/dynamic", definition("st-taken"))).status).toBe(202);
    const agent = await s.connect({
      agentId: "st-b-1",
      zoneId: "east",
      staticAccounts: [
        { name: "st-taken", config: { kubeconfigFile: "/k" } },
        { name: "st-free", config: { kubeconfigFile: "/k" } },
      ],
    });
    const welcome = await agent.waitFor("welcome");
    expect(welcome.rejected).toEqual(["st-taken"]);
    const roles = await agent.waitFor("save");
    expect(roles.assignments.map((a) => a.name)).toEqual(["st-free"]);
    expect(await s.account("st-taken")).toMatchObject({ source: "clouddriver", status: "INACTIVE", agents: [] });
    expect(await s.account("st-free")).toMatchObject({ source: "static-agent-config", agents: [{ agentId: "st-b-1", caching: true }] });
  });

  it("is read-only through the API", async () => {
    const s = scenario();
    await s.connect({ agentId: "st-c-1", zoneId: "east", staticAccounts: [{ name: "st-ro", config: { kubeconfigFile: "/k" } }] });
    await eventually(async () => expect((await s.account("st-ro")).status).toBe("ACTIVE"));
    expect((await s.rest("POST", "/armory/accounts/dynamic", definition("st-ro"))).status).toBe(409);
    expect((await s.rest("PATCH", "/armory/accounts", [{ name: "st-ro", state: "INACTIVE" }])).status).toBe(400);
    expect((await s.rest("PUT", "/armory/accounts/dynamic", definition("st-ro"))).status).toBe(400);
    expect((await s.rest("DELETE", "/armory/accounts", ["st-ro"])).status).toBe(400);
    expect(await s.account("st-ro")).toMatchObject({ status: "ACTIVE", agents: [{ agentId: "st-c-1", caching: true }] });
  });

  it("lets replicas hold the same static account with one caching, moves the role, orphans it with the last one and removes it later", async () => {
    const s = scenario();
    const config = { kubeconfigFile: "/etc/kube/shared" };
    const first = await s.connect({ agentId: "st-d-1", zoneId: "east", staticAccounts: [{ name: "st-shared", config }] });
    await first.waitFor("save");
    const second = await s.connect({ agentId: "st-d-2", zoneId: "east", staticAccounts: [{ name: "st-shared", config }] });
    const secondRoles = await second.waitFor("save");
    expect(secondRoles.assignments).toMatchObject([{ name: "st-shared", caching: false }]);
    expect((await s.account("st-shared")).agents).toEqual([
      { agentId: "st-d-1", caching: true },
      { agentId: "st-d-2", caching: false },
    ]);

    first.end();
    await second.waitFor("save", (m) => m.assignments.some((a) => a.name === "st-shared" && a.caching));
    await eventually(async () => {
      const account = await s.account("st-shared");
      expect(account.agents).toEqual([{ agentId: "st-d-2", caching: true }]);
      expect(account.lastAssignmentMsg).toBe("agent st-d-1 (zone east) disconnected; Agent st-d-2 promoted to caching");
    });

    second.end();
    await eventually(async () => {
      const account = await s.account("st-shared");
      expect(account.status).toBe("ORPHANED");
      expect(account.agents).toEqual([]);
      expect(account.lastAssignmentMsg).toBe(
        "agent st-d-2 (zone east) disconnected; no agent holds this static account any more (removed in 10s unless an agent registers it again)",
      );
    });
    // A cleanup finds it orphaned for less than cleanupAfter (the database's clock, which the rule
    // reads, has not moved on 10 s): it stays listed.
    await clock.advance(5_000);
    expect((await s.rest("GET", "/armory/accounts/st-shared")).status).toBe(200);
    // Orphaned an hour ago: the next cleanup removes it.
    await s.hub.app.database.db.execute(sql`UPDATE kubesvc_accounts SET updated_at = now() - interval '1 hour' WHERE name = 'st-shared'`);
    await clock.advance(5_000);
    await eventually(async () => expect((await s.rest("GET", "/armory/accounts/st-shared")).status).toBe(404));
  });

  it("turns an ORPHANED static account ACTIVE again when an agent registers it again", async () => {
    const s = scenario();
    const config = { kubeconfigFile: "/etc/kube/back" };
    const agent = await s.connect({ agentId: "st-e-1", zoneId: "east", staticAccounts: [{ name: "st-back", config }] });
    await agent.waitFor("save");
    agent.end();
    await eventually(async () => expect((await s.account("st-back")).status).toBe("ORPHANED"));
    const again = await s.connect({ agentId: "st-e-1", zoneId: "east", staticAccounts: [{ name: "st-back", config }] });
    await again.waitFor("save", (m) => m.assignments.some((a) => a.name === "st-back" && a.caching));
    expect(await s.account("st-back")).toMatchObject({ status: "ACTIVE", agents: [{ agentId: "st-e-1", caching: true }] });
  });
});
