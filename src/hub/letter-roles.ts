import type { ConnectResponse } from "../../gen/agenthub/v1/agent_pb.js";
import type { PendingRequest } from "./pending-requests.js";

/**
 * An account message another replica wrote for one of this replica's agents, brought up to date
 * with the roles the database holds now (`roles`: account → caching, for the accounts the agent
 * still holds). Returns undefined when nothing is left to send.
 *
 * The sender decided the roles from the rows at its commit; this replica delivers the letter
 * later, possibly after a batch of its own moved a role. Replica A's agent confirms a demotion,
 * A's batch gives the role to another agent, and only then A delivers B's letter that re-sent the
 * first agent `caching=true` from the rows before: two agents told to cache (the contention test,
 * about one run in eight under load). So each account gets the role its row has now, except a
 * demotion, which says `caching=false` while the row stays caching until the agent answers; an
 * account the agent no longer holds is left out. DeleteAccounts go as written.
 */
export function withCurrentRoles(
  message: ConnectResponse,
  pending: PendingRequest,
  roles: ReadonlyMap<string, boolean>,
): { message: ConnectResponse; pending: PendingRequest } | undefined {
  const msg = message.msg;
  if (msg.case !== "addAccounts" && msg.case !== "saveAccounts") return { message, pending };
  const accounts = new Map<string, boolean>();
  msg.value.assignments = msg.value.assignments.filter((assignment) => {
    const name = assignment.account?.name ?? "";
    const held = roles.get(name);
    if (held === undefined) return false;
    assignment.caching = pending.demotions?.has(name) === true ? false : held;
    accounts.set(name, assignment.caching);
    return true;
  });
  if (accounts.size === 0) return undefined;
  const demotions = new Set([...(pending.demotions ?? [])].filter((name) => accounts.has(name)));
  return { message, pending: { ...pending, accounts, demotions } };
}
