import { describe, expect, it } from "vitest";
import { compareZones, fallbackZones, leastLoadedAgent, planHandoffs } from "../../src/hub/placement.js";

describe("placement", () => {
  it("orders zones by caching roles per agent, then by name", () => {
    const zones = [
      { zone: "b", agents: 2, caching: 2 },
      { zone: "a", agents: 4, caching: 4 },
      { zone: "c", agents: 3, caching: 1 },
    ];
    expect([...zones].sort(compareZones).map((z) => z.zone)).toEqual(["c", "a", "b"]);
  });

  it("offers fallback zones not tried yet, least-loaded first, and no zone-less agents for pinned accounts", () => {
    const zones = [
      { zone: "", agents: 1, caching: 0 },
      { zone: "a", agents: 1, caching: 5 },
      { zone: "b", agents: 1, caching: 1 },
      { zone: "c", agents: 2, caching: 1 },
    ];
    expect(fallbackZones(zones, new Set(["a"]), true)).toEqual(["c", "b"]);
    expect(fallbackZones(zones, new Set(["a"]), false)).toEqual(["", "c", "b"]);
    expect(fallbackZones(zones, new Set(["", "a", "b", "c"]), false)).toEqual([]);
  });

  it("gives a new caching role to the agent with the fewest, then the smallest id", () => {
    const load = new Map([
      ["x-2", 1],
      ["x-1", 1],
      ["x-3", 2],
    ]);
    expect(leastLoadedAgent(["x-3", "x-2", "x-1"], (id) => load.get(id) ?? 0)).toBe("x-1");
    expect(leastLoadedAgent([], () => 0)).toBeUndefined();
  });

  it("moves caching roles to newcomers up to their share, only from agents with at least two more", () => {
    const holders = new Set(["old", "new"]);
    const candidates = ["c", "a", "b", "d"].map((account) => ({ account, caching: "old", holders }));
    const plan = planHandoffs(
      [
        { agentId: "old", load: 4 },
        { agentId: "new", load: 0 },
      ],
      ["new"],
      candidates,
    );
    expect(plan).toEqual([
      { account: "a", from: "old", to: "new" },
      { account: "b", from: "old", to: "new" },
    ]);
    // Balanced already (3 vs 2): nothing moves.
    expect(
      planHandoffs(
        [
          { agentId: "old", load: 3 },
          { agentId: "new", load: 2 },
        ],
        ["new"],
        candidates,
      ),
    ).toEqual([]);
    // Only accounts the newcomer holds can move to it.
    expect(planHandoffs([{ agentId: "old", load: 4 }, { agentId: "new", load: 0 }], ["new"], [{ account: "z", caching: "old", holders: new Set(["old"]) }])).toEqual([]);
  });
});
