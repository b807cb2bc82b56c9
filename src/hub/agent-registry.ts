import type { AgentSession } from "./agent-session.js";

/**
 * The agents connected to this hub that the engine has welcomed, by id and by zone. Only the
 * engine changes it, after its batch has committed, so it always agrees with `kubesvc_agents`.
 */
export interface AgentRegistry {
  get(agentId: string): AgentSession | undefined;
  /** Ids of the agents of a zone. */
  membersOf(zone: string): ReadonlySet<string>;
  /** Zones with at least one agent. */
  zones(): IterableIterator<string>;
  sessions(): IterableIterator<AgentSession>;
  /** How many agents are registered. */
  size(): number;
  /** Adds the session, replacing one with the same agent id. */
  put(session: AgentSession): void;
  /** Removes the agent. */
  remove(agentId: string): void;
}

const NONE: ReadonlySet<string> = new Set();

/** Creates an empty registry. */
export function createAgentRegistry(): AgentRegistry {
  const byId = new Map<string, AgentSession>();
  const byZone = new Map<string, Set<string>>();
  const remove = (agentId: string) => {
    const session = byId.get(agentId);
    if (session === undefined) return;
    byId.delete(agentId);
    const members = byZone.get(session.zoneId);
    members?.delete(agentId);
    if (members?.size === 0) byZone.delete(session.zoneId);
  };
  return {
    get: (agentId) => byId.get(agentId),
    membersOf: (zone) => byZone.get(zone) ?? NONE,
    zones: () => byZone.keys(),
    sessions: () => byId.values(),
    size: () => byId.size,
    put(session) {
      remove(session.agentId);
      byId.set(session.agentId, session);
      let members = byZone.get(session.zoneId);
      if (members === undefined) byZone.set(session.zoneId, (members = new Set()));
      members.add(session.agentId);
    },
    remove,
  };
}
