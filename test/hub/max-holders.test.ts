import { describe, expect, it } from "vitest";
import { DATABASE_KINDS } from "../support/databases.js";
import { definition, useScenario } from "./support/hub-scenario.js";
import { eventually } from "../support/eventually.js";

const NAMES = Array.from({ length: 10 }, (_, i) => `capped-${i}`);

/**
 * Design section 6, holders per account: with `assignment.maxHolders` 2 a zone of five agents
 * gives each account two holders (one caching), spread so that every agent holds about as many;
 * the others stand by, and when a holder leaves a standby takes its place with AddAccounts.
 */
describe.each(DATABASE_KINDS)("assignment.maxHolders on %s", (kind) => {
  const scenario = useScenario(kind, { "assignment.maxHolders": 2 });

  it("caps the holders of an account, balances them over the zone, and a standby takes a leaving holder's place", async () => {
    const s = scenario();
    const agents = [];
    for (let i = 1; i <= 5; i++) agents.push(await s.connect({ agentId: `m-${i}`, zoneId: "m" }));
    const created = await s.rest("POST", "/armory/accounts/dynamic", NAMES.map((name) => definition(name, "m")));
    expect(created.status).toBe(202);
    expect((await s.rest("PATCH", "/armory/accounts/dynamic", NAMES.map((name) => ({ name, state: "ACTIVE" })))).status).toBe(202);
    await eventually(async () => {
      for (const name of NAMES) {
        const account = await s.account(name);
        expect(account.status).toBe("ACTIVE");
        expect(account.agents).toHaveLength(2);
        expect(account.agents.filter((a) => a.caching)).toHaveLength(1);
      }
    });
    // 20 holdings over 5 agents: 4 each; 10 caching roles: 2 each.
    const list = await s.agentList();
    expect(list.map((a) => a.accounts)).toEqual([4, 4, 4, 4, 4]);
    expect(list.map((a) => a.caching)).toEqual([2, 2, 2, 2, 2]);

    const leaving = agents[0]!;
    const held = new Set([...leaving.holdings.keys()]);
    expect(held.size).toBe(4);
    const others = agents.slice(1);
    const addsBefore = others.map((a) => a.received.filter((m) => m.kind === "add").length);
    const leftAt = Date.now();
    leaving.end();
    await eventually(async () => {
      for (const name of NAMES) {
        const account = await s.account(name);
        expect(account.status).toBe("ACTIVE");
        expect(account.agents.map((a) => a.agentId)).not.toContain("m-1");
        expect(account.agents).toHaveLength(2);
        expect(account.agents.filter((a) => a.caching)).toHaveLength(1);
      }
    });
    // The standbys were told with AddAccounts, one new holder per account the leaver held.
    const newAdds = others.flatMap((a, i) => a.received.filter((m) => m.kind === "add").slice(addsBefore[i]));
    const refilled = newAdds.flatMap((m) => (m.kind === "add" ? m.assignments.map((x) => x.name) : []));
    expect(new Set(refilled)).toEqual(held);
    expect(refilled).toHaveLength(held.size);
    console.log(`${kind}: a holder left; standbys took its ${held.size} accounts within ${Date.now() - leftAt} ms (checked by polling)`);
    // Still balanced: 20 holdings over 4 agents.
    const after = await s.agentList();
    expect(after.map((a) => a.accounts).sort()).toEqual([5, 5, 5, 5]);
  });
});
