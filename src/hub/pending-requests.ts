import type { Clock } from "./clock.js";

/** An account message sent to an agent whose answers are still expected. */
export interface PendingRequest {
  agentId: string;
  kind: "add" | "save" | "delete";
  /** Account name → the role the message carried (false for delete). */
  accounts: Map<string, boolean>;
  /** Accounts whose caching holder this message told to stop caching: the first step of a handoff. */
  demotions?: ReadonlySet<string>;
}

/**
 * The account messages agents have not fully answered, by request id, so that an AccountResult
 * is read as the answer to what was actually asked (an OK to a delete is not an OK to an add).
 */
export interface PendingRequests {
  /** A new request id, unique for this hub process. */
  nextId(): string;
  add(requestId: string, request: PendingRequest): void;
  /** What the agent was asked about the account in that request, if it is still expected. */
  peek(agentId: string, requestId: string, account: string): { kind: PendingRequest["kind"]; caching: boolean; demotion: boolean } | undefined;
  /** The account's answer arrived. */
  answered(requestId: string, account: string): void;
  /** The agent's stream ended: its requests will never be answered. */
  forgetAgent(agentId: string): void;
}

/**
 * A per-request deadline (`dynamicAccounts.assignTimeout`, design section 15): a request some of
 * whose accounts are still unanswered when it runs out is reported, so that the engine can count
 * the silence as UNREACHABLE for that holder.
 */
export interface RequestDeadline {
  clock: Clock;
  timeoutMs: number;
  expired(agentId: string, requestId: string, unanswered: string[]): void;
}

/** Creates an empty set of pending requests; with a deadline, each request is timed from `add`. */
export function createPendingRequests(deadline?: RequestDeadline): PendingRequests {
  const byId = new Map<string, PendingRequest>();
  const byAgent = new Map<string, Set<string>>();
  const timers = new Map<string, () => void>();
  let counter = 0;
  const remove = (requestId: string) => {
    const request = byId.get(requestId);
    if (request === undefined) return;
    timers.get(requestId)?.();
    timers.delete(requestId);
    byId.delete(requestId);
    const ids = byAgent.get(request.agentId);
    ids?.delete(requestId);
    if (ids?.size === 0) byAgent.delete(request.agentId);
  };
  return {
    nextId: () => `r${(++counter).toString(36)}`,
    add(requestId, request) {
      byId.set(requestId, request);
      let ids = byAgent.get(request.agentId);
      if (ids === undefined) byAgent.set(request.agentId, (ids = new Set()));
      ids.add(requestId);
      if (deadline !== undefined) {
        timers.set(
          requestId,
          deadline.clock.after(deadline.timeoutMs, () => {
            timers.delete(requestId);
            // Still pending: the answers are left to the engine, which removes them as it applies them.
            if (byId.get(requestId) === request && request.accounts.size > 0) deadline.expired(request.agentId, requestId, [...request.accounts.keys()]);
          }),
        );
      }
    },
    peek(agentId, requestId, account) {
      const request = byId.get(requestId);
      if (request === undefined || request.agentId !== agentId) return undefined;
      const caching = request.accounts.get(account);
      return caching === undefined ? undefined : { kind: request.kind, caching, demotion: request.demotions?.has(account) === true };
    },
    answered(requestId, account) {
      const request = byId.get(requestId);
      if (request === undefined) return;
      request.accounts.delete(account);
      if (request.accounts.size === 0) remove(requestId);
    },
    forgetAgent(agentId) {
      for (const requestId of [...(byAgent.get(agentId) ?? [])]) remove(requestId);
    },
  };
}
