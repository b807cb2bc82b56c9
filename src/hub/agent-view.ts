import type { AgentRegistry } from "./agent-registry.js";
import type { AgentSession } from "./agent-session.js";
import type { ZoneLoad } from "./placement.js";
import { createZoneOrder, type ZoneOrder } from "./zone-order.js";

/** An agent whose stream another live replica holds, as `kubesvc_agents` shows it. */
export interface RemoteAgent {
  agentId: string;
  zoneId: string;
  hubId: string;
  /** Caching roles it holds. */
  caching: number;
  /** Accounts it holds, in any role. */
  held: number;
}

/**
 * The connected agents as one engine batch sees them: the registry plus the agents of other live
 * replicas plus the batch's joins and leaves, with caching loads that follow the batch's role changes. Nothing reaches the registry
 * until `commit`, so a batch whose transaction fails leaves it untouched.
 */
export interface AgentView {
  /** The zone of a connected agent. */
  zoneOf(agentId: string): string | undefined;
  /** The replica holding the agent's stream when it is not this one; undefined for local (or unknown) agents. */
  remoteHub(agentId: string): string | undefined;
  /** The agents of a zone, sorted by id. */
  agentsIn(zone: string): readonly string[];
  /** Every zone with agents, with its load. */
  zoneLoads(): ZoneLoad[];
  /** The least-loaded zone with agents (placement's compareZones), in O(log zones); undefined when no agent is connected. */
  leastLoadedZone(): string | undefined;
  /** Caching roles the agent holds, with this batch's changes. */
  load(agentId: string): number;
  adjustLoad(agentId: string, delta: number): void;
  /** Accounts the agent holds in any role, with this batch's changes: what choosing holders balances. */
  held(agentId: string): number;
  adjustHeld(agentId: string, delta: number): void;
  /** The session becomes the agent's current one; `load` is its caching roles, `held` its accounts. */
  join(session: AgentSession, load: number, held: number): void;
  leave(agentId: string): void;
  /**
   * Replaces the other replicas' agents with a fresher read. The batch reads them again once its
   * accounts are locked, so that every holder it reads under the locks is an agent it knows.
   */
  setRemote(agents: readonly RemoteAgent[]): void;
  /** Applies joins, leaves and loads to the registry. Returns the sessions that joins replaced. */
  commit(): AgentSession[];
}

/**
 * A view over the registry for one batch. `localHeld` is the engine's count of accounts per
 * local agent; `commit` writes the batch's changes to it.
 */
export function createAgentView(registry: AgentRegistry, remoteAgents: readonly RemoteAgent[] = [], localHeld: Map<string, number> = new Map()): AgentView {
  let remote = new Map(remoteAgents.map((a) => [a.agentId, a]));
  const joined = new Map<string, AgentSession>();
  const left = new Set<string>();
  const loads = new Map<string, number>();
  const helds = new Map<string, number>();
  // Zone membership and per-zone caching sums, built on first use and kept up to date by
  // adjustLoad, so that choosing a zone costs O(zones) and not O(agents) per account.
  let zoneMembers: Map<string, string[]> | undefined;
  let zoneCaching: Map<string, number> | undefined;
  let zoneOrder: ZoneOrder | undefined;

  const session = (agentId: string): { agentId: string; zoneId: string; caching: number } | undefined =>
    joined.get(agentId) ?? (left.has(agentId) ? undefined : (registry.get(agentId) ?? remote.get(agentId)));
  const remoteOf = (agentId: string): RemoteAgent | undefined =>
    joined.has(agentId) || left.has(agentId) || registry.get(agentId) !== undefined ? undefined : remote.get(agentId);
  const load = (agentId: string): number => loads.get(agentId) ?? session(agentId)?.caching ?? 0;
  const held = (agentId: string): number => {
    const h = helds.get(agentId);
    if (h !== undefined) return h;
    const r = remoteOf(agentId);
    return r !== undefined ? r.held : (localHeld.get(agentId) ?? 0);
  };
  const members = (): Map<string, string[]> => {
    if (zoneMembers !== undefined) return zoneMembers;
    const zones = new Map<string, string[]>();
    const add = (s: { agentId: string; zoneId: string }) => {
      const list = zones.get(s.zoneId) ?? [];
      list.push(s.agentId);
      zones.set(s.zoneId, list);
    };
    for (const s of registry.sessions()) if (!left.has(s.agentId) && !joined.has(s.agentId)) add(s);
    for (const s of joined.values()) add(s);
    for (const a of remote.values()) if (remoteOf(a.agentId) !== undefined) add(a);
    const sums = new Map<string, number>();
    const order = createZoneOrder((zone) => {
      const agents = zones.get(zone)?.length ?? 0;
      return agents === 0 ? undefined : { zone, agents, caching: sums.get(zone) ?? 0 };
    });
    for (const [zone, list] of zones) {
      list.sort();
      let caching = 0;
      for (const id of list) caching += load(id);
      sums.set(zone, caching);
      order.update({ zone, agents: list.length, caching });
    }
    zoneCaching = sums;
    zoneOrder = order;
    return (zoneMembers = zones);
  };
  const invalidate = () => {
    zoneMembers = undefined;
    zoneCaching = undefined;
    zoneOrder = undefined;
  };

  return {
    zoneOf: (agentId) => session(agentId)?.zoneId,
    remoteHub: (agentId) => remoteOf(agentId)?.hubId,
    agentsIn: (zone) => members().get(zone) ?? [],
    zoneLoads() {
      const result: ZoneLoad[] = [];
      for (const [zone, ids] of members()) result.push({ zone, agents: ids.length, caching: zoneCaching?.get(zone) ?? 0 });
      return result;
    },
    leastLoadedZone() {
      members();
      return zoneOrder?.least();
    },
    load,
    adjustLoad(agentId, delta) {
      loads.set(agentId, load(agentId) + delta);
      const zone = session(agentId)?.zoneId;
      if (zone !== undefined && zoneCaching?.has(zone) === true) {
        const caching = (zoneCaching.get(zone) ?? 0) + delta;
        zoneCaching.set(zone, caching);
        zoneOrder?.update({ zone, agents: zoneMembers?.get(zone)?.length ?? 0, caching });
      }
    },
    held,
    adjustHeld(agentId, delta) {
      helds.set(agentId, held(agentId) + delta);
    },
    join(s, initialLoad, initialHeld) {
      left.delete(s.agentId);
      joined.set(s.agentId, s);
      loads.set(s.agentId, initialLoad);
      helds.set(s.agentId, initialHeld);
      invalidate();
    },
    setRemote(agents) {
      remote = new Map(agents.map((a) => [a.agentId, a]));
      invalidate();
    },
    leave(agentId) {
      joined.delete(agentId);
      left.add(agentId);
      loads.delete(agentId);
      helds.delete(agentId);
      invalidate();
    },
    commit() {
      const replaced: AgentSession[] = [];
      for (const agentId of left) {
        registry.remove(agentId);
        localHeld.delete(agentId);
      }
      for (const s of joined.values()) {
        const before = registry.get(s.agentId);
        if (before !== undefined && before !== s) replaced.push(before);
        registry.put(s);
      }
      for (const [agentId, value] of loads) {
        const s = registry.get(agentId);
        if (s !== undefined) s.caching = value;
      }
      for (const [agentId, value] of helds) if (registry.get(agentId) !== undefined) localHeld.set(agentId, Math.max(0, value));
      return replaced;
    },
  };
}
