import { describe, expect, it } from "vitest";
import { DATABASE_KINDS } from "../support/databases.js";
import { definition, useScenario, type Scenario } from "./support/hub-scenario.js";
import { eventually } from "../support/eventually.js";
import { createManualClock } from "../support/manual-clock.js";
import type { Received, TestAgent } from "./support/test-agent.js";

/** The assignments an agent received for an account, in order, as [kind, caching]. */
function history(agent: TestAgent, account: string): [string, boolean | undefined][] {
  const out: [string, boolean | undefined][] = [];
  for (const m of agent.received) {
    if (m.kind === "add" || m.kind === "save") for (const a of m.assignments) if (a.name === account) out.push([m.kind, a.caching]);
    if (m.kind === "delete" && m.names.includes(account)) out.push(["delete", undefined]);
  }
  return out;
}

/** The agent's history for the account, once it has arrived (messages go out after the batch commits). */
async function expectHistory(agent: TestAgent, account: string, expected: [string, boolean | undefined][]): Promise<void> {
  await eventually(() => expect(history(agent, account)).toEqual(expected));
}

async function activeAccount(s: Scenario, name: string) {
  return eventually(async () => {
    const account = await s.account(name);
    expect(account.status).toBe("ACTIVE");
    return account;
  });
}

describe.each(DATABASE_KINDS)("assignment on %s", (kind) => {
  // Never advanced: placement, promotion, handoff and deactivation follow events, not timers.
  const scenario = useScenario(kind, {}, createManualClock());

  it("sends a pinned account to every agent of its zone, exactly one of them caching", async () => {
    const s = scenario();
    const a1 = await s.connect({ agentId: "a-1", zoneId: "a" });
    const a2 = await s.connect({ agentId: "a-2", zoneId: "a" });
    const b1 = await s.connect({ agentId: "b-1", zoneId: "b" });
    await s.createActive(definition("pinned-1", "a", { namespaces: ["team"] }));
    const account = await activeAccount(s, "pinned-1");
    await Promise.all([a1, a2].map((agent) => agent.waitFor("add")));

    const adds = [a1, a2].map((agent) => agent.received.find((m): m is Extract<Received, { kind: "add" }> => m.kind === "add"));
    expect(adds.map((m) => m?.assignments.length)).toEqual([1, 1]);
    expect(adds.map((m) => m?.assignments[0]?.caching).sort()).toEqual([false, true]);
    expect(adds[0]?.assignments[0]).toMatchObject({
      name: "pinned-1",
      zoneId: "a",
      config: { name: "pinned-1", zoneId: "a", kubeconfigFile: "/kube/pinned-1.yaml", namespaces: ["team"] },
    });
    expect(b1.received.map((m) => m.kind)).toEqual(["welcome"]);

    const caching = adds[0]?.assignments[0]?.caching === true ? "a-1" : "a-2";
    expect(account.agents).toEqual([
      { agentId: "a-1", caching: caching === "a-1" },
      { agentId: "a-2", caching: caching === "a-2" },
    ]);
    expect(account.lastAssignmentMsg).toMatch(/^successfully assigned to Agent a-[12] for (caching|operations)$/);
    expect(await s.holders("pinned-1")).toEqual([
      { agentId: "a-1", caching: caching === "a-1", hubId: s.hub.app.hubId },
      { agentId: "a-2", caching: caching === "a-2", hubId: s.hub.app.hubId },
    ]);
    const agents = await s.agentList();
    expect(agents.map((a) => [a.agentId, a.accounts, a.caching])).toEqual([
      ["a-1", 1, caching === "a-1" ? 1 : 0],
      ["a-2", 1, caching === "a-2" ? 1 : 0],
      ["b-1", 0, 0],
    ]);
  });

  it("sends an unpinned account to every agent of the least-loaded zone and spreads caching roles", async () => {
    const s = scenario();
    const a1 = await s.connect({ agentId: "a-1", zoneId: "a" });
    const a2 = await s.connect({ agentId: "a-2", zoneId: "a" });
    const b1 = await s.connect({ agentId: "b-1", zoneId: "b" });
    // Zone a caches one account over two agents (0.5 per agent), zone b nothing.
    await s.createActive(definition("load-a", "a"));
    await activeAccount(s, "load-a");
    const loaded = (await s.holders("load-a")).find((h) => h.caching)?.agentId;

    await s.createActive(definition("free-1"));
    const first = await activeAccount(s, "free-1");
    expect(first.agents).toEqual([{ agentId: "b-1", caching: true }]);
    await expectHistory(b1, "free-1", [["add", true]]);
    await expectHistory(a1, "free-1", []);
    expect(first.zoneId).toBe("");
    expect(b1.received.find((m) => m.kind === "add")).toMatchObject({ assignments: [{ name: "free-1", zoneId: "" }] });

    // Now zone b carries 1 per agent, zone a 0.5: zone a, on its agent without a caching role.
    await s.createActive(definition("free-2"));
    const second = await activeAccount(s, "free-2");
    const other = loaded === "a-1" ? "a-2" : "a-1";
    expect(second.agents).toEqual([
      { agentId: "a-1", caching: other === "a-1" },
      { agentId: "a-2", caching: other === "a-2" },
    ]);
    await expectHistory(a2, "free-2", [["add", other === "a-2"]]);
    await expectHistory(b1, "free-2", []);
  });

  it("spreads caching roles over a zone's agents, also to an agent that joins later, never two at once", async () => {
    const s = scenario();
    const a1 = await s.connect({ agentId: "a-1", zoneId: "a" });
    const names = ["spread-1", "spread-2", "spread-3", "spread-4"];
    for (const name of names) await s.createActive(definition(name, "a"));
    for (const name of names) await activeAccount(s, name);
    expect((await s.agentList())[0]).toMatchObject({ agentId: "a-1", caching: 4 });

    let maxCaching = 0;
    let watching = true;
    const watch = (async () => {
      while (watching) {
        for (const name of names) maxCaching = Math.max(maxCaching, (await s.holders(name)).filter((h) => h.caching).length);
        // Yield to timers and sockets: PGlite answers without leaving the microtask queue.
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    try {
      await s.connect({ agentId: "a-2", zoneId: "a" });
      await eventually(async () => {
        const agents = await s.agentList();
        expect(agents.map((a) => [a.agentId, a.accounts, a.caching])).toEqual([
          ["a-1", 4, 2],
          ["a-2", 4, 2],
        ]);
      });
    } finally {
      watching = false;
      await watch;
    }
    const a2 = s.agents.find((a) => a.agentId === "a-2")!;
    expect(maxCaching).toBe(1);
    for (const name of names) expect((await s.holders(name)).filter((h) => h.caching)).toHaveLength(1);
    // The newcomer got every account as an operations holder first; two roles moved to it
    // only after a-1 had confirmed it stopped caching them.
    const movedTo = (name: string) => history(a2, name).some(([kind, caching]) => kind === "save" && caching === true);
    await eventually(() => expect(names.filter(movedTo)).toHaveLength(2));
    const moved = names.filter(movedTo);
    for (const name of moved) {
      await expectHistory(a2, name, [
        ["add", false],
        ["save", true],
      ]);
      await expectHistory(a1, name, [
        ["add", true],
        ["save", false],
      ]);
      expect((await s.account(name)).lastAssignmentMsg).toBe("caching moved from Agent a-1 to Agent a-2 to spread the zone's load");
    }
    for (const name of names.filter((n) => !moved.includes(n))) {
      expect((await s.account(name)).lastAssignmentMsg).toBe("agent a-2 (zone a) connected; Agent a-1 for caching, Agent a-2 for operations");
    }
  });

  it("promotes another holder at once, without waiting for any timer, when the caching holder goes away", async () => {
    const s = scenario();
    const a1 = await s.connect({ agentId: "a-1", zoneId: "a" });
    const a2 = await s.connect({ agentId: "a-2", zoneId: "a" });
    await s.createActive(definition("promo-1", "a"));
    const account = await activeAccount(s, "promo-1");
    const [cachingAgent, otherAgent] = account.agents[0]?.caching === true ? [a1, a2] : [a2, a1];

    cachingAgent.cancel();
    await otherAgent.waitFor("save", (m) => m.assignments.some((a) => a.name === "promo-1" && a.caching));
    const after = await s.account("promo-1");
    expect(after.status).toBe("ACTIVE");
    expect(after.agents).toEqual([{ agentId: otherAgent.agentId, caching: true }]);
    expect(after.lastAssignmentMsg).toBe(`agent ${cachingAgent.agentId} (zone a) disconnected; Agent ${otherAgent.agentId} promoted to caching`);
  });

  it("places an unpinned account on another zone at once when its last holder leaves", async () => {
    const s = scenario();
    const a1 = await s.connect({ agentId: "a-1", zoneId: "a" });
    await s.createActive(definition("roam-1"));
    expect((await activeAccount(s, "roam-1")).agents).toEqual([{ agentId: "a-1", caching: true }]);
    const b1 = await s.connect({ agentId: "b-1", zoneId: "b" });
    a1.end();
    await b1.waitFor("add", (m) => m.assignments.some((a) => a.name === "roam-1" && a.caching));
    const moved = await activeAccount(s, "roam-1");
    expect(moved.agents).toEqual([{ agentId: "b-1", caching: true }]);
    expect(moved.lastAssignmentMsg).toBe("successfully assigned to Agent b-1 for caching");
  });

  it("leaves an account ORPHANED, naming the zone, while no eligible agent is connected, and assigns it when one connects", async () => {
    const s = scenario();
    await s.connect({ agentId: "a-1", zoneId: "a" });
    await s.createActive(definition("lonely-c", "c"));
    await eventually(async () => {
      const account = await s.account("lonely-c");
      expect(account.status).toBe("ORPHANED");
      expect(account.lastAssignmentMsg).toBe("activated; no agent of zone c is connected");
      expect(account.agents).toEqual([]);
    });

    const c1 = await s.connect({ agentId: "c-1", zoneId: "c" });
    await c1.waitFor("add", (m) => m.assignments.some((a) => a.name === "lonely-c" && a.caching && a.zoneId === "c"));
    const back = await activeAccount(s, "lonely-c");
    expect(back.agents).toEqual([{ agentId: "c-1", caching: true }]);
    expect(back.lastAssignmentMsg).toBe("successfully assigned to Agent c-1 for caching");

    // The last holder leaves: ORPHANED again, and the pinned account is not sent to zone a.
    c1.end();
    await eventually(async () => {
      const account = await s.account("lonely-c");
      expect(account.status).toBe("ORPHANED");
      expect(account.lastAssignmentMsg).toBe("agent c-1 (zone c) disconnected; no agent of zone c is connected");
    });
  });

  it("orphans an unpinned account only when no agent is connected at all", async () => {
    const s = scenario();
    await s.createActive(definition("nobody-1"));
    await eventually(async () => {
      const account = await s.account("nobody-1");
      expect(account.status).toBe("ORPHANED");
      expect(account.lastAssignmentMsg).toBe("activated; no agent is connected");
    });
    const z = await s.connect({ agentId: "z-1", zoneId: "" });
    await z.waitFor("add", (m) => m.assignments.some((a) => a.name === "nobody-1"));
    expect((await activeAccount(s, "nobody-1")).agents).toEqual([{ agentId: "z-1", caching: true }]);
    expect((await s.agentList())[0]).toMatchObject({ agentId: "z-1", zoneId: "" });
  });

  it("deactivates through DeleteAccounts to every holder, then INACTIVE", async () => {
    const s = scenario();
    const a1 = await s.connect({ agentId: "a-1", zoneId: "a" });
    const a2 = await s.connect({ agentId: "a-2", zoneId: "a" });
    await s.createActive(definition("off-1", "a"));
    await activeAccount(s, "off-1");
    expect((await s.rest("PATCH", "/armory/accounts", [{ name: "off-1", state: "INACTIVE" }])).status).toBe(202);
    for (const agent of [a1, a2]) await agent.waitFor("delete", (m) => m.names.includes("off-1"));
    await eventually(async () => {
      const account = await s.account("off-1");
      expect(account.status).toBe("INACTIVE");
      expect(account.agents).toEqual([]);
      expect(account.lastAssignmentMsg).toMatch(/^deactivated: agent a-[12] \(zone a\) stopped serving it$/);
    });
    expect(await s.holders("off-1")).toEqual([]);
    expect([...a1.holdings.keys(), ...a2.holdings.keys()]).toEqual([]);
  });

  it("turns a deactivation FAILED when a holder cannot delete, and tries again on the next PATCH INACTIVE", async () => {
    const s = scenario();
    let refuse = true;
    const agent = await s.connect({
      agentId: "a-1",
      zoneId: "a",
      onAccount: (_name, kind) => (kind === "delete" && refuse ? { outcome: "ERROR", message: "finalizer stuck" } : { outcome: "OK" }),
    });
    await s.createActive(definition("stuck-1", "a"));
    await activeAccount(s, "stuck-1");
    await s.rest("PATCH", "/armory/accounts", [{ name: "stuck-1", state: "INACTIVE" }]);
    await eventually(async () => {
      const account = await s.account("stuck-1");
      expect(account.status).toBe("FAILED");
      expect(account.lastAssignmentMsg).toBe("agent a-1 (zone a) failed to delete the account: finalizer stuck");
      expect(account.agents).toEqual([{ agentId: "a-1", caching: true }]);
    });
    refuse = false;
    expect((await s.rest("PATCH", "/armory/accounts", [{ name: "stuck-1", state: "INACTIVE" }])).status).toBe(202);
    await eventually(async () => expect((await s.account("stuck-1")).status).toBe("INACTIVE"));
    await expectHistory(agent, "stuck-1", [
      ["add", true],
      ["delete", undefined],
      ["delete", undefined],
    ]);
  });

  it("deletes through DeleteAccounts, then removes the row", async () => {
    const s = scenario();
    const a1 = await s.connect({ agentId: "a-1", zoneId: "a" });
    await s.createActive(definition("gone-1", "a"));
    await activeAccount(s, "gone-1");
    expect((await s.rest("DELETE", "/armory/accounts", ["gone-1"])).status).toBe(202);
    await a1.waitFor("delete", (m) => m.names.includes("gone-1"));
    await eventually(async () => expect((await s.rest("GET", "/armory/accounts/gone-1")).status).toBe(404));
    expect(await s.row("gone-1")).toBeUndefined();
    expect(await s.holders("gone-1")).toEqual([]);
  });

  it("pushes a PUT of an ACTIVE account to its holders at once, kubeconfigAgent replacing the kubeconfig", async () => {
    const s = scenario();
    const a1 = await s.connect({ agentId: "a-1", zoneId: "a" });
    const a2 = await s.connect({ agentId: "a-2", zoneId: "a" });
    await s.createActive(definition("put-1", "a"));
    const before = await activeAccount(s, "put-1");

    const put = await s.rest("PUT", "/armory/accounts/dynamic", {
      name: "put-1",
      zoneId: "a",
      kubeconfigContents: "apiVersion: v1\nkind: Config\n",
      kubeconfigAgent: "/var/run/agent/put-1.kubeconfig",
      namespaces: ["ns-2"],
    });
    expect(put.status).toBe(202);
    for (const agent of [a1, a2]) {
      const save = await agent.waitFor("save", (m) => m.assignments.some((a) => a.name === "put-1"));
      const assignment = save.assignments.find((a) => a.name === "put-1");
      expect(assignment?.config).toEqual({ name: "put-1", zoneId: "a", kubeconfigFile: "/var/run/agent/put-1.kubeconfig", namespaces: ["ns-2"] });
      expect(assignment?.caching).toBe(before.agents.find((h) => h.agentId === agent.agentId)?.caching);
    }
    const after = await s.account("put-1");
    expect(after.status).toBe("ACTIVE");
    expect(after.agents).toEqual(before.agents);
    expect(after.lastAssignmentMsg).toBe("definition updated; sent to Agent a-1, Agent a-2");
  });

  it("places an ACTIVE account again when a PUT changes its zoneId", async () => {
    const s = scenario();
    const a1 = await s.connect({ agentId: "a-1", zoneId: "a" });
    const b1 = await s.connect({ agentId: "b-1", zoneId: "b" });
    const b2 = await s.connect({ agentId: "b-2", zoneId: "b" });
    await s.createActive(definition("mover-1", "a"));
    await activeAccount(s, "mover-1");
    expect((await s.rest("PUT", "/armory/accounts/dynamic", definition("mover-1", "b"))).status).toBe(202);
    await a1.waitFor("delete", (m) => m.names.includes("mover-1"));
    for (const agent of [b1, b2]) await agent.waitFor("add", (m) => m.assignments.some((a) => a.name === "mover-1" && a.zoneId === "b"));
    await eventually(async () => {
      const account = await s.account("mover-1");
      expect(account.status).toBe("ACTIVE");
      expect(account.zoneId).toBe("b");
      expect(account.agents.map((h) => h.agentId)).toEqual(["b-1", "b-2"]);
      expect(account.agents.filter((h) => h.caching)).toHaveLength(1);
    });
  });

  it("re-sends to the holders on PATCH ACTIVE of an ACTIVE account", async () => {
    const s = scenario();
    const a1 = await s.connect({ agentId: "a-1", zoneId: "a" });
    await s.createActive(definition("again-1", "a"));
    await activeAccount(s, "again-1");
    expect((await s.rest("PATCH", "/armory/accounts", [{ name: "again-1", state: "ACTIVE" }])).status).toBe(202);
    await a1.waitFor("save", (m) => m.assignments.some((a) => a.name === "again-1" && a.caching));
    await activeAccount(s, "again-1");
    await expectHistory(a1, "again-1", [
      ["add", true],
      ["save", true],
    ]);
  });
});
