/**
 * The words of `lastAssignmentMsg` (design section 6): what happened last, for an operator.
 * Kept in one place so that every rule speaks the same way.
 */

/** "zone a", or "no zone" for agents without one. */
export function zoneLabel(zone: string): string {
  return zone === "" ? "no zone" : `zone ${zone}`;
}

/** "agent a-1 (zone a)". */
export function agentLabel(agentId: string, zone: string): string {
  return `agent ${agentId} (${zoneLabel(zone)})`;
}

/** "5s", "500ms", "10m": how the configuration writes durations. */
export function formatDuration(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1_000 && ms % 1_000 === 0) return `${ms / 1_000}s`;
  return `${ms}ms`;
}

/** "Agent a-1 for caching, Agent a-2 for operations" (the first few, then a count). */
export function rolesLabel(holders: readonly { agentId: string; caching: boolean }[]): string {
  const shown = [...holders].sort((a, b) => Number(b.caching) - Number(a.caching)).slice(0, 3);
  const words = shown.map((h) => `Agent ${h.agentId} for ${h.caching ? "caching" : "operations"}`);
  const rest = holders.length - shown.length;
  return rest > 0 ? `${words.join(", ")} and ${rest} more for operations` : words.join(", ");
}

/** "Agent a-1, Agent a-2" (the first few, then a count). */
export function agentsLabel(agentIds: readonly string[]): string {
  const shown = agentIds.slice(0, 3).map((id) => `Agent ${id}`);
  const rest = agentIds.length - shown.length;
  return rest > 0 ? `${shown.join(", ")} and ${rest} more` : shown.join(", ");
}

/** An agent's failure to reach the cluster or to take the account. */
export interface AgentFailure {
  agentId: string;
  zone: string;
  message: string;
}

/** "agent a-1 (zone a) could not reach the cluster: <message>". */
export function unreachableLabel(f: AgentFailure): string {
  return `${agentLabel(f.agentId, f.zone)} could not reach the cluster: ${f.message === "" ? "no reason given" : f.message}`;
}
