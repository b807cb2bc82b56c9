/**
 * Who gets what (design section 6), as pure functions over loads: the engine asks, these answer.
 * "Load" is the number of caching roles an agent holds; a zone's load is its caching roles per agent.
 */

/** A zone with connected agents and the caching roles they hold together. */
export interface ZoneLoad {
  zone: string;
  agents: number;
  caching: number;
}

/** Orders zones least-loaded first (fewest caching roles per agent), then by name. */
export function compareZones(a: ZoneLoad, b: ZoneLoad): number {
  // Cross-multiplied so that equal ratios compare equal without floating point.
  const byLoad = a.caching * b.agents - b.caching * a.agents;
  if (byLoad !== 0) return byLoad;
  return a.zone < b.zone ? -1 : a.zone > b.zone ? 1 : 0;
}

/**
 * The zones a round may still offer an account to, least-loaded first: not tried yet in this
 * round, and for a pinned account not the agents without a zone (they serve unpinned accounts only).
 */
export function fallbackZones(zones: readonly ZoneLoad[], tried: ReadonlySet<string>, pinned: boolean): string[] {
  return zones
    .filter((z) => z.agents > 0 && !tried.has(z.zone) && !(pinned && z.zone === ""))
    .sort(compareZones)
    .map((z) => z.zone);
}

/** The agent with the fewest caching roles (then the smallest id), for a new caching role. */
export function leastLoadedAgent(agentIds: Iterable<string>, load: (agentId: string) => number): string | undefined {
  let best: string | undefined;
  let bestLoad = Infinity;
  for (const id of agentIds) {
    const l = load(id);
    if (l < bestLoad || (l === bestLoad && best !== undefined && id < best)) {
      best = id;
      bestLoad = l;
    }
  }
  return best;
}

/**
 * The holders an account gets in a zone (design section 6, `assignment.maxHolders`): every agent
 * when the zone has no more than `cap` (or `cap` is 0); otherwise the agents that hold it
 * already, topped up with the agents holding the fewest accounts (then the smallest id), so
 * that a zone's agents hold about the same number. O(agents × cap) at most.
 */
export function chooseHolders(agents: readonly string[], holds: (agentId: string) => boolean, cap: number, held: (agentId: string) => number): string[] {
  if (cap === 0 || agents.length <= cap) return [...agents];
  const chosen = agents.filter(holds).slice(0, cap);
  while (chosen.length < cap) {
    let best: string | undefined;
    let bestHeld = Infinity;
    for (const id of agents) {
      if (chosen.includes(id)) continue;
      const h = held(id);
      if (h < bestHeld || (h === bestHeld && best !== undefined && id < best)) {
        best = id;
        bestHeld = h;
      }
    }
    if (best === undefined) break;
    chosen.push(best);
  }
  return chosen;
}

/** An account whose caching role could move: who caches it now and who holds it. */
export interface RoleCandidate {
  account: string;
  caching: string;
  holders: { has(agentId: string): boolean };
}

/** A caching role to move from one holder to another. */
export interface Handoff {
  account: string;
  from: string;
  to: string;
}

/**
 * Moves caching roles to agents that just joined a zone until they carry their share
 * (⌊total / agents⌋), taking only from agents that hold at least two more than the newcomer, so
 * that a zone's replicas end up caching evenly however they connected.
 */
export function planHandoffs(
  agents: readonly { agentId: string; load: number }[],
  newcomers: readonly string[],
  candidates: readonly RoleCandidate[],
): Handoff[] {
  if (agents.length < 2) return [];
  const load = new Map(agents.map((a) => [a.agentId, a.load]));
  const total = agents.reduce((sum, a) => sum + a.load, 0);
  const share = Math.floor(total / agents.length);
  const moved = new Set<string>();
  const plan: Handoff[] = [];
  const sorted = [...candidates].sort((a, b) => (a.account < b.account ? -1 : a.account > b.account ? 1 : 0));
  for (const to of [...newcomers].sort()) {
    for (const c of sorted) {
      if ((load.get(to) ?? 0) >= share) break;
      if (moved.has(c.account) || c.caching === to || !c.holders.has(to)) continue;
      const fromLoad = load.get(c.caching) ?? 0;
      if (fromLoad <= (load.get(to) ?? 0) + 1) continue;
      plan.push({ account: c.account, from: c.caching, to });
      moved.add(c.account);
      load.set(c.caching, fromLoad - 1);
      load.set(to, (load.get(to) ?? 0) + 1);
    }
  }
  return plan;
}
