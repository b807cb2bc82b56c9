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

/** Creates an empty set of pending requests. */
export function createPendingRequests(): PendingRequests {
  const byId = new Map<string, PendingRequest>();
  const byAgent = new Map<string, Set<string>>();
  let counter = 0;
  const remove = (requestId: string) => {
    const request = byId.get(requestId);
    if (request === undefined) return;
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
