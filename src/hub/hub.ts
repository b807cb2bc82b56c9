import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { AccountResultSchema, Outcome } from "../../gen/agenthub/v1/agent_pb.js";
import type { AgentService } from "../../gen/agenthub/v1/agent_pb.js";
import type { OperationService } from "../../gen/agenthub/v1/operations_pb.js";
import type { HubConfig } from "../config/config.js";
import type { Logger } from "../log/logger.js";
import type { Database } from "../store/database.js";
import { createAccountEngine } from "./account-engine.js";
import { createAgentRegistry } from "./agent-registry.js";
import type { AgentSession } from "./agent-session.js";
import { createAgentStreamHandler, type AgentStreamDeps } from "./agent-stream.js";
import { systemClock, type Clock } from "./clock.js";
import { createHeartbeatMonitor } from "./heartbeat-monitor.js";
import { createHolderIndex } from "./holder-index.js";
import { createHubLease } from "./hub-lease.js";
import { createHubMailbox, type Addressed } from "./hub-mailbox.js";
import { noHubObserver, type HubObserver } from "./hub-observer.js";
import { createOperationRouter } from "./operations.js";
import { formatDuration } from "./operator-messages.js";
import { createPendingRequests } from "./pending-requests.js";
import type { AccountReconciler } from "./reconciler.js";
import { createStaticCleanup } from "./static-cleanup.js";
import { createTransientSweep } from "./transient-sweep.js";

export interface HubDeps {
  database: Database;
  config: HubConfig;
  logger: Logger;
  hubId: string;
  /** Aborts when the process shuts down: streams end and the hub releases what its agents held. */
  shutdown: AbortSignal;
  /** Time and timers; the system clock unless a test drives them. */
  clock?: Clock;
  /** Told about batches and departures (metrics); nobody by default. */
  observer?: HubObserver;
  /** Checks each agent's hello against its credential before it joins (design section 14). */
  authorizeHello?: AgentStreamDeps["authorizeHello"];
}

/** The agent hub: live streams, assignment engine, roles, fallback, operations. */
export interface Hub extends AccountReconciler {
  agentService: ServiceImpl<typeof AgentService>;
  operationService: ServiceImpl<typeof OperationService>;
  /** Registers the replica, finishes what a previous process left half done, starts the timers. */
  start(): Promise<void>;
  /** Ends every agent stream, releases what the agents held, stops the timers. */
  close(): Promise<void>;
  /** True while this replica's lease row is its own and was renewed within `hub.leaseTtl` (for /readyz). */
  leaseHeld(): boolean;
  /** Agent streams this replica holds (welcomed, not ended). */
  agentsConnected(): number;
}

/** Creates the hub. Nothing runs until `start`. */
export function createHub(deps: HubDeps): Hub {
  const { database, config, logger, hubId } = deps;
  const clock = deps.clock ?? systemClock;
  const observer = deps.observer ?? noHubObserver;
  const registry = createAgentRegistry();
  const holders = createHolderIndex();
  const mailbox = createHubMailbox({
    database,
    hubId,
    clock,
    logger,
    sweepMs: config.hub.heartbeatIntervalMs,
    async onLetters(letters) {
      operations.deliver(letters);
      await engine.deliver(letters);
    },
  });
  const assignTimeoutMs = config.dynamicAccounts.assignTimeoutMs;
  const pending = createPendingRequests({
    clock,
    timeoutMs: assignTimeoutMs,
    // The hub's own pause of reading is not the agent's silence (as for heartbeats).
    readWithoutPause(agentId, since) {
      const session = registry.get(agentId);
      return session === undefined || (!session.readingPaused && session.readingResumedAt < since);
    },
    // No answer in time counts as UNREACHABLE for that holder: fallback and retries as for an answer (design section 4).
    expired(agentId, requestId, unanswered) {
      logger.warn({ agentId, requestId, accounts: unanswered.length }, "agent did not answer an account message in time");
      const message = `did not answer within ${formatDuration(assignTimeoutMs)} (dynamicAccounts.assignTimeout)`;
      for (const accountName of unanswered) engine.result(agentId, create(AccountResultSchema, { requestId, accountName, outcome: Outcome.UNREACHABLE, message }));
    },
  });
  const engine = createAccountEngine({ database, config, logger, hubId, clock, registry, holders, pending, post: mailbox.post, observer });
  const operations = createOperationRouter({
    database,
    registry,
    holders,
    clock,
    logger,
    hubId,
    timeoutMs: config.operationTimeoutMs,
    leaseTtlMs: config.hub.leaseTtlMs,
    post: (letters: readonly Addressed[]) => mailbox.post(database.db, letters),
  });
  const onClosed = (session: AgentSession) => {
    operations.sessionClosed(session);
    observer.agentLeft(session.agentId);
    engine.leave(session);
  };
  const connect = createAgentStreamHandler({
    engine,
    operations,
    clock,
    logger,
    pending,
    holders,
    limits: config.limits,
    // Throttled for as long as it would take to miss its heartbeats: the agent is not keeping to the protocol.
    floodPatienceMs: config.heartbeat.intervalMs * config.heartbeat.missedLimit,
    onClosed,
    ...(deps.authorizeHello === undefined ? {} : { authorizeHello: deps.authorizeHello }),
  });
  const heartbeats = createHeartbeatMonitor({
    database,
    registry,
    clock,
    logger,
    hubId,
    intervalMs: config.heartbeat.intervalMs,
    missedLimit: config.heartbeat.missedLimit,
  });
  const lease = createHubLease({
    database,
    config,
    logger,
    hubId,
    clock,
    engine,
    onLeaseLost(why) {
      // Other replicas have released (or may have released) these agents: they must reconnect
      // to be registered again.
      for (const session of [...registry.sessions()]) {
        session.close(`the hub lost its lease: ${why}`, new ConnectError("this hub replica lost its lease; reconnect", Code.Unavailable));
      }
    },
  });
  const cleanup = createStaticCleanup({ database, clock, logger, cleanupAfterMs: config.staticAccounts.cleanupAfterMs });
  const sweep = createTransientSweep({
    database,
    clock,
    logger,
    everyMs: 5 * config.hub.heartbeatIntervalMs,
    // Longer than any step of a placement: a deadline, a round's pause, a dead replica's lease.
    staleMs: config.dynamicAccounts.assignTimeoutMs + config.dynamicAccounts.retryFrequencyMs + config.hub.leaseTtlMs,
    changed: (changes) => engine.accountsChanged(changes),
  });

  let stopping: Promise<void> | undefined;
  /**
   * Every agent leaves at once: one batch releases everything, then the streams end. Never
   * rejects: a database failure here is logged, and the next start releases what is left.
   */
  const stopAgents = (): Promise<void> =>
    (stopping ??= (async () => {
      const released = engine.shutdown();
      for (const session of [...registry.sessions()]) {
        session.close("disconnected: the hub shut down", new ConnectError("the hub is shutting down; reconnect", Code.Unavailable));
      }
      operations.close();
      try {
        await released;
      } catch (err) {
        logger.error({ err }, "releasing agents at shutdown failed");
      }
    })());
  deps.shutdown.addEventListener("abort", () => void stopAgents(), { once: true });

  return {
    agentService: { connect },
    operationService: operations.service,
    accountsChanged: (changes) => engine.accountsChanged(changes),
    leaseHeld: () => lease.leaseHeld(),
    agentsConnected: () => registry.size(),
    async start() {
      await lease.start();
      await engine.recover(`hub ${hubId} started`);
      await mailbox.start();
      heartbeats.start();
      cleanup.start();
      sweep.start();
    },
    async close() {
      await stopAgents();
      await engine.idle();
      await heartbeats.stop();
      await mailbox.stop();
      await cleanup.stop();
      await sweep.stop();
      await lease.stop();
      engine.close();
    },
  };
}
