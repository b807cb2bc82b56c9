import { parseReachability } from "./reachability.js";
import { createSimAgent, type SimAgent } from "./sim-agent.js";
import { agentSpec, type TopologySpec } from "./topology.js";
import { createGate } from "./dial-gate.js";

/** How a process runs its share of the simulated agents. */
export interface AgentPoolOptions {
  /** The hub's agent URLs (its replicas); agents dial `targets[firstTarget]` first (sim-agent.ts). */
  targets: string[];
  firstTarget: number;
  topology: TopologySpec;
  /** Indices of the agents this pool plays. */
  first: number;
  count: number;
  /** `--reach` (see parseReachability). */
  reach: string;
  opLatencyMs: number;
  heartbeatMs: number | undefined;
  reconnectDelayMs: number;
  /** Agents dialing at once, at most. */
  dialConcurrency: number;
}

/** Events since the last drain, small enough to send over IPC every 100 ms. */
export interface EventBatch {
  welcomed: [agentId: string, at: number, connectMs: number][];
  cachingGained: [account: string, agentId: string, at: number][];
  cachingLost: [account: string, agentId: string, at: number][];
  /** Streams the agents did not end themselves, by the index of the target they were on. */
  streamsEnded: [agentId: string, target: number, at: number][];
  operationsServed: number;
  errors: Record<string, number>;
}

/** What a killed agent cached, and when it died. */
export interface KilledAgent {
  agentId: string;
  at: number;
  cached: string[];
}

/** The agents of one process. */
export interface AgentPool {
  start(): void;
  kill(agentIds: string[]): KilledAgent[];
  bounce(agentId: string, downtimeMs: number): void;
  drain(): EventBatch;
  connected(): number;
  stop(): Promise<void>;
}

/** Creates the agents `first … first+count-1` of the topology (not yet dialing). */
export function createAgentPool(options: AgentPoolOptions, now: () => number): AgentPool {
  const targets = options.targets.map((t) => new URL(t));
  const reach = parseReachability(options.reach);
  const dialGate = createGate(options.dialConcurrency);
  const emptyBatch = (): EventBatch => ({ welcomed: [], cachingGained: [], cachingLost: [], streamsEnded: [], operationsServed: 0, errors: {} });
  let batch = emptyBatch();
  const events = {
    welcomed: (agentId: string, at: number, connectMs: number) => batch.welcomed.push([agentId, at, connectMs]),
    cachingGained: (account: string, agentId: string, at: number) => batch.cachingGained.push([account, agentId, at]),
    cachingLost: (account: string, agentId: string, at: number) => batch.cachingLost.push([account, agentId, at]),
    streamEnded: (agentId: string, target: number, at: number) => batch.streamsEnded.push([agentId, target, at]),
    operationServed: () => (batch.operationsServed += 1),
    error: (kind: string) => (batch.errors[kind] = (batch.errors[kind] ?? 0) + 1),
  };
  const agents = new Map<string, SimAgent>();
  for (let i = options.first; i < options.first + options.count; i++) {
    const spec = agentSpec(options.topology, i);
    agents.set(
      spec.agentId,
      createSimAgent({
        targets,
        firstTarget: options.firstTarget,
        spec,
        zoneIndex: i % options.topology.zones,
        reach,
        opLatencyMs: options.opLatencyMs,
        heartbeatMs: options.heartbeatMs,
        reconnectDelayMs: options.reconnectDelayMs,
        events,
        dialGate,
      }),
    );
  }
  return {
    start() {
      for (const a of agents.values()) a.start();
    },
    kill(agentIds) {
      return agentIds.flatMap((agentId) => {
        const agent = agents.get(agentId);
        if (agent === undefined) return [];
        const at = now();
        return [{ agentId, at, cached: agent.kill() }];
      });
    },
    bounce(agentId, downtimeMs) {
      agents.get(agentId)?.bounce(downtimeMs);
    },
    drain() {
      const out = batch;
      batch = emptyBatch();
      return out;
    },
    connected: () => [...agents.values()].filter((a) => a.isConnected()).length,
    async stop() {
      await Promise.all([...agents.values()].map((a) => a.stop()));
    },
  };
}
