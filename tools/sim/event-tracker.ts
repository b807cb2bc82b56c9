import type { EventBatch } from "./agent-pool.js";
import { createHistogram, type Histogram } from "./histogram.js";

/** What the coordinator knows from the agents' events, across all workers. */
export interface EventTracker {
  add(batch: EventBatch): void;
  /** Agents welcomed at least once. */
  welcomedAgents(): number;
  /** When the last agent was first welcomed. */
  lastFirstWelcomeAt(): number;
  /** Dial-to-welcome time of every agent's first connection. */
  firstConnectLatency(): Histogram;
  /** Welcomes after the first one (redials after churn or a lost stream). */
  reconnects(): number;
  /** Welcomes since `since` (to see churned agents come back). */
  welcomesSince(since: number): number;
  /** The latest time any agent was told to cache `account`, and by whom. */
  lastCachingGain(account: string): { agentId: string; at: number } | undefined;
  /** Agents that cache `account` now, as the agents say (told to cache, not told otherwise since, stream not ended). */
  cachers(account: string): number;
  /**
   * Accounts that two agents cached at the same moment between `from` and `to`, judged from the
   * agents' side (design section 11), and the longest such moment.
   */
  cachingOverlaps(from: number, to: number): { accounts: number; longestMs: number };
  /** Up to `n` accounts with the longest such moments, with every role change of theirs (ms after `from`), to tell what happened. */
  overlapExamples(from: number, to: number, n: number): OverlapExample[];
  /** Streams that ended under their agents on one of `targets` (replica indices) since `since`. */
  streamsEndedSince(since: number, targets: ReadonlySet<number>): number;
  operationsServed(): number;
  errors(): Record<string, number>;
}

/** An account two agents cached at once, and how its caching role went. */
export interface OverlapExample {
  account: string;
  longestMs: number;
  changes: { agentId: string; atMs: number; caching: boolean }[];
}

/** One agent starting (+1) or stopping (-1) to cache an account. */
type RoleChange = [at: number, agentId: string, delta: 1 | -1];

/** The longest stretch within [from, to] in which two or more agents cached at once. */
function longestOverlap(changes: RoleChange[], from: number, to: number): number {
  // At one instant a stop goes before a start: a handoff at the same millisecond is not an overlap.
  const ordered = [...changes].sort((a, b) => a[0] - b[0] || a[2] - b[2]);
  const caching = new Set<string>();
  let since: number | undefined;
  let longest = 0;
  for (const [at, agentId, delta] of ordered) {
    if (delta === 1) caching.add(agentId);
    else caching.delete(agentId);
    if (caching.size >= 2) since ??= at;
    else if (since !== undefined) {
      longest = Math.max(longest, Math.min(at, to) - Math.max(since, from));
      since = undefined;
    }
  }
  if (since !== undefined) longest = Math.max(longest, to - Math.max(since, from));
  return longest;
}

/** Creates an empty tracker. */
export function createEventTracker(): EventTracker {
  const firstWelcome = new Map<string, number>();
  const welcomeTimes: number[] = [];
  const connectLatency = createHistogram();
  const gains = new Map<string, { agentId: string; at: number }>();
  const roleChanges = new Map<string, RoleChange[]>();
  const caching = new Map<string, Set<string>>();
  const streamEnds: [target: number, at: number][] = [];
  const changed = (account: string, change: RoleChange) => {
    const list = roleChanges.get(account);
    if (list === undefined) roleChanges.set(account, [change]);
    else list.push(change);
    let now = caching.get(account);
    if (now === undefined) caching.set(account, (now = new Set()));
    if (change[2] === 1) now.add(change[1]);
    else now.delete(change[1]);
  };
  const errors: Record<string, number> = {};
  let lastFirst = 0;
  let reconnects = 0;
  let served = 0;
  return {
    add(batch) {
      for (const [agentId, at, connectMs] of batch.welcomed) {
        welcomeTimes.push(at);
        if (firstWelcome.has(agentId)) {
          reconnects += 1;
          continue;
        }
        firstWelcome.set(agentId, at);
        connectLatency.record(connectMs);
        if (at > lastFirst) lastFirst = at;
      }
      for (const [account, agentId, at] of batch.cachingGained) {
        const prev = gains.get(account);
        if (prev === undefined || at >= prev.at) gains.set(account, { agentId, at });
        changed(account, [at, agentId, 1]);
      }
      // One agent's events come in the order it had them (one worker, one channel): the set stays right.
      for (const [account, agentId, at] of batch.cachingLost) changed(account, [at, agentId, -1]);
      for (const [, target, at] of batch.streamsEnded) streamEnds.push([target, at]);
      served += batch.operationsServed;
      for (const [kind, n] of Object.entries(batch.errors)) errors[kind] = (errors[kind] ?? 0) + n;
    },
    welcomedAgents: () => firstWelcome.size,
    lastFirstWelcomeAt: () => lastFirst,
    firstConnectLatency: () => connectLatency,
    reconnects: () => reconnects,
    welcomesSince: (since) => welcomeTimes.filter((t) => t >= since).length,
    lastCachingGain: (account) => gains.get(account),
    cachers: (account) => caching.get(account)?.size ?? 0,
    cachingOverlaps(from, to) {
      let accounts = 0;
      let longestMs = 0;
      for (const changes of roleChanges.values()) {
        const longest = longestOverlap(changes, from, to);
        if (longest <= 0) continue;
        accounts += 1;
        longestMs = Math.max(longestMs, longest);
      }
      return { accounts, longestMs };
    },
    overlapExamples(from, to, n) {
      const found: OverlapExample[] = [];
      for (const [account, changes] of roleChanges) {
        const longestMs = longestOverlap(changes, from, to);
        if (longestMs <= 0) continue;
        const ordered = [...changes].sort((a, b) => a[0] - b[0]);
        found.push({ account, longestMs, changes: ordered.map(([at, agentId, delta]) => ({ agentId, atMs: Math.round(at - from), caching: delta === 1 })) });
      }
      return found.sort((a, b) => b.longestMs - a.longestMs).slice(0, n);
    },
    streamsEndedSince: (since, targets) => streamEnds.filter(([target, at]) => at >= since && targets.has(target)).length,
    operationsServed: () => served,
    errors: () => ({ ...errors }),
  };
}
