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
  operationsServed(): number;
  errors(): Record<string, number>;
}

/** Creates an empty tracker. */
export function createEventTracker(): EventTracker {
  const firstWelcome = new Map<string, number>();
  const welcomeTimes: number[] = [];
  const connectLatency = createHistogram();
  const gains = new Map<string, { agentId: string; at: number }>();
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
      }
      served += batch.operationsServed;
      for (const [kind, n] of Object.entries(batch.errors)) errors[kind] = (errors[kind] ?? 0) + n;
    },
    welcomedAgents: () => firstWelcome.size,
    lastFirstWelcomeAt: () => lastFirst,
    firstConnectLatency: () => connectLatency,
    reconnects: () => reconnects,
    welcomesSince: (since) => welcomeTimes.filter((t) => t >= since).length,
    lastCachingGain: (account) => gains.get(account),
    operationsServed: () => served,
    errors: () => ({ ...errors }),
  };
}
