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

/** What a pending request asked the agent about one account. */
export interface Asked {
  kind: PendingRequest["kind"];
  caching: boolean;
  demotion: boolean;
}

/**
 * The account messages agents have not fully answered, by request id, so that an AccountResult
 * is read as the answer to what was actually asked (an OK to a delete is not an OK to an add).
 */
export interface PendingRequests {
  /** A new request id, unique for this hub process. */
  nextId(): string;
  /**
   * Records a request sent to the agent. It supersedes the agent's earlier requests about the same
   * accounts: their answers are still expected but no longer count (what an agent holds is what
   * its last message said).
   */
  add(requestId: string, request: PendingRequest): void;
  /**
   * The request's message left the agent's outbox for its stream: its deadline starts now. Timed
   * from `add` instead, a reconnect storm's backlog in the outbox ran requests out before their
   * agents could have read them, and the engine counted agents that were about to answer OK as
   * unreachable (wide topology, 10,000 agents).
   */
  sent(requestId: string): void;
  /**
   * What the agent was asked about the account in that request; "superseded" when a later request
   * asked again; undefined when no answer is expected.
   */
  peek(agentId: string, requestId: string, account: string): Asked | "superseded" | undefined;
  /** The account's answer arrived (or, superseded, was dropped). */
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
  /**
   * Whether the hub read the agent's stream without a pause since `since`. After a pause (it
   * waits for room in the engine's queue) the agent's answers may still sit unread behind other
   * messages, so a request that runs out then is timed afresh instead: the hub's backlog is not
   * the agent's silence.
   */
  readWithoutPause?: (agentId: string, since: number) => boolean;
  expired(agentId: string, requestId: string, unanswered: string[]): void;
}

interface Entry {
  request: PendingRequest;
  /** Accounts a later request to the agent asked again. */
  superseded: Set<string>;
  /** Its deadline is running (the message was sent). */
  timed: boolean;
}

/**
 * A request's deadline. Both queues of them are in the order they run out: every request has the
 * same timeout, whether timed from its sending or afresh after a pause of reading.
 */
interface Due {
  /** When it was sent, or timed afresh. */
  since: number;
  at: number;
  requestId: string;
  entry: Entry;
}

/**
 * Creates an empty set of pending requests; with a deadline, each request is timed from `sent`.
 * One timer serves all deadlines: an activation of 50,000 accounts sends as many requests, and a
 * timer each cost more than the rest of their bookkeeping together (CPU profile, 2026-12-02).
 */
export function createPendingRequests(deadline?: RequestDeadline): PendingRequests {
  const byId = new Map<string, Entry>();
  const byAgent = new Map<string, Set<string>>();
  // Agent → account → the request whose answer counts (the last one sent about it).
  const latest = new Map<string, Map<string, string>>();
  let dues: Due[] = [];
  let firstDue = 0;
  // Rare (requests timed afresh after a pause of reading): a plain queue.
  const rechecks: Due[] = [];
  let cancelTimer: (() => void) | undefined;
  let counter = 0;
  const removeIfDone = (requestId: string, entry: Entry) => {
    if (entry.request.accounts.size > 0 || entry.superseded.size > 0) return;
    byId.delete(requestId);
    const ids = byAgent.get(entry.request.agentId);
    ids?.delete(requestId);
    if (ids?.size === 0) byAgent.delete(entry.request.agentId);
  };
  const expire = (due: Due, timing: RequestDeadline) => {
    const { requestId, entry } = due;
    // Answered and removed, or replaced under the same id: nothing runs out.
    if (byId.get(requestId) !== entry) return;
    if (timing.readWithoutPause?.(entry.request.agentId, due.since) === false) {
      const now = timing.clock.now();
      rechecks.push({ ...due, since: now, at: now + timing.timeoutMs });
      return;
    }
    const { expired } = timing;
    // Superseded answers are not waited for any longer; the later request has its own deadline.
    entry.superseded.clear();
    // Still pending: the answers are left to the engine, which removes them as it applies them.
    if (entry.request.accounts.size > 0) expired(entry.request.agentId, requestId, [...entry.request.accounts.keys()]);
    else removeIfDone(requestId, entry);
  };
  const armTimer = (timing: RequestDeadline) => {
    const next = Math.min(dues[firstDue]?.at ?? Infinity, rechecks[0]?.at ?? Infinity);
    if (next === Infinity || cancelTimer !== undefined) return;
    cancelTimer = timing.clock.after(Math.max(0, next - timing.clock.now()), () => {
      cancelTimer = undefined;
      const now = timing.clock.now();
      // Rechecks first: one pushed during this loop is due only a timeout from now.
      const rechecking = rechecks.findIndex((due) => due.at > now);
      for (const due of rechecks.splice(0, rechecking < 0 ? rechecks.length : rechecking)) expire(due, timing);
      for (let due = dues[firstDue]; due !== undefined && due.at <= now; due = dues[firstDue]) {
        firstDue++;
        expire(due, timing);
      }
      // Drop the run-out prefix once it is most of the queue, so that the queue stays proportional to what is pending.
      if (firstDue > 1024 && firstDue * 2 > dues.length) {
        dues = dues.slice(firstDue);
        firstDue = 0;
      }
      armTimer(timing);
    });
  };
  return {
    nextId: () => `r${(++counter).toString(36)}`,
    add(requestId, request) {
      if (request.accounts.size === 0) return;
      const { agentId } = request;
      let forAgent = latest.get(agentId);
      if (forAgent === undefined) latest.set(agentId, (forAgent = new Map()));
      for (const account of request.accounts.keys()) {
        const earlierId = forAgent.get(account);
        forAgent.set(account, requestId);
        const earlier = earlierId === undefined ? undefined : byId.get(earlierId);
        if (earlier?.request.accounts.delete(account) === true) earlier.superseded.add(account);
      }
      const entry: Entry = { request, superseded: new Set(), timed: false };
      byId.set(requestId, entry);
      let ids = byAgent.get(agentId);
      if (ids === undefined) byAgent.set(agentId, (ids = new Set()));
      ids.add(requestId);
    },
    sent(requestId) {
      const entry = byId.get(requestId);
      if (deadline === undefined || entry === undefined || entry.timed) return;
      entry.timed = true;
      // Sent in the order they are timed: the queue stays in the order the deadlines run out.
      const now = deadline.clock.now();
      dues.push({ since: now, at: now + deadline.timeoutMs, requestId, entry });
      armTimer(deadline);
    },
    peek(agentId, requestId, account) {
      const entry = byId.get(requestId);
      if (entry === undefined || entry.request.agentId !== agentId) return undefined;
      if (entry.superseded.has(account)) return "superseded";
      const caching = entry.request.accounts.get(account);
      return caching === undefined ? undefined : { kind: entry.request.kind, caching, demotion: entry.request.demotions?.has(account) === true };
    },
    answered(requestId, account) {
      const entry = byId.get(requestId);
      if (entry === undefined) return;
      entry.superseded.delete(account);
      if (entry.request.accounts.delete(account)) {
        const forAgent = latest.get(entry.request.agentId);
        if (forAgent?.get(account) === requestId) forAgent.delete(account);
        if (forAgent?.size === 0) latest.delete(entry.request.agentId);
      }
      removeIfDone(requestId, entry);
    },
    forgetAgent(agentId) {
      latest.delete(agentId);
      for (const requestId of [...(byAgent.get(agentId) ?? [])]) {
        const entry = byId.get(requestId);
        if (entry === undefined) continue;
        entry.request.accounts.clear();
        entry.superseded.clear();
        removeIfDone(requestId, entry);
      }
    },
  };
}
