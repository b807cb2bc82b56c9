import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { OperationService } from "../../gen/agenthub/v1/operations_pb.js";
import { cachingHolder, type AccountDraft } from "../hub/account-draft.js";
import type { HubObserver } from "../hub/hub-observer.js";
import type { AccountReconciler } from "../hub/reconciler.js";
import type { Logger } from "../log/logger.js";
import { ACCOUNT_STATUSES, AccountStatus } from "../model/account-states.js";
import type { Database } from "../store/database.js";
import { processMetrics } from "./process-metrics.js";

/** A scrape within this long of the previous one reuses its account counts (100k rows are counted by status). */
const ACCOUNT_COUNT_TTL_MS = 1_000;
/** A count that takes longer (database down) leaves the previous values in place. */
const ACCOUNT_COUNT_TIMEOUT_MS = 2_000;
/** Activations and failovers not finished within this long are forgotten (bounded memory). */
const FORGET_AFTER_MS = 60 * 60_000;
/** A departed agent's caching roles count as failing over for this long at most. */
const DEPARTURE_MEMORY_MS = 60_000;

/** The statuses in which an account is still on its way to ACTIVE. */
const ON_ITS_WAY: ReadonlySet<AccountStatus> = new Set([AccountStatus.ACTIVATING, AccountStatus.ORPHANED]);

/** The hub's Prometheus metrics (design section 16) and the hooks that feed them. */
export interface HubMetrics {
  /** Engine batches and agent departures: batch time, activation and failover times. */
  observer: HubObserver;
  /** Wraps the reconciler the API calls, to time PATCH ACTIVE → ACTIVE from the API's commit. */
  watchReconciler(reconciler: AccountReconciler): AccountReconciler;
  /** Wraps OperationService.Execute to count outcomes and time operations. */
  watchOperations(service: ServiceImpl<typeof OperationService>): ServiceImpl<typeof OperationService>;
  contentType: string;
  /** The Prometheus text of this hub's and the process's metrics. */
  scrape(): Promise<string>;
}

export interface HubMetricsDeps {
  database: Database;
  logger: Logger;
  /** Agent streams this replica holds. */
  agentsConnected(): number;
}

/** `deadline_exceeded` for Code.DeadlineExceeded: the label of an operation that got no answer. */
function codeLabel(code: Code): string {
  return (Code[code] ?? "unknown").replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

/** Drops map entries (kept in insertion order, which is time order) older than `cutoff`. */
function forgetBefore(map: Map<string, number>, cutoff: number): void {
  for (const [key, at] of map) {
    if (at >= cutoff) return;
    map.delete(key);
  }
}

/**
 * Creates the metrics of one hub. Labels are bounded sets (status names, outcomes), never an
 * agent or account name. Activation and failover are timed on the replica that sees both ends:
 * an activation from the API call this replica took to the batch that made the account ACTIVE,
 * a failover from the end of the caching holder's stream to the batch that gave the account a
 * new caching holder (SaveAccounts caching=true is sent right after it).
 */
export function createHubMetrics(deps: HubMetricsDeps): HubMetrics {
  // Taken now, not at the first scrape: the CPU counters and the event-loop monitor count from
  // when they are created, and a hub scraped late would otherwise report its first minutes as idle.
  const nodeMetrics = processMetrics();
  const registry = new Registry();
  const registers = [registry];
  let counted: { at: number; counts: Map<string, number> } | undefined;
  let counting: Promise<void> | undefined;

  async function countAccounts(): Promise<void> {
    const rows = await deps.database.rows<{ status: string; n: number }>(sql`SELECT status, count(*)::int AS n FROM kubesvc_accounts GROUP BY status`);
    counted = { at: Date.now(), counts: new Map(rows.map((r) => [r.status, Number(r.n)])) };
  }

  new Gauge({ name: "agenthub_agents_connected", help: "Agent streams this replica holds", registers, collect() {
    this.set(deps.agentsConnected());
  } });
  new Gauge({
    name: "agenthub_accounts",
    help: "Accounts the hub stores, by status (all replicas; Clouddriver rows not yet migrated are not counted)",
    labelNames: ["status"],
    registers,
    async collect() {
      if (counted === undefined || Date.now() - counted.at >= ACCOUNT_COUNT_TTL_MS) {
        counting ??= countAccounts()
          .catch((err: unknown) => deps.logger.warn({ err }, "metrics: counting accounts by status failed; keeping the previous counts"))
          .finally(() => (counting = undefined));
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([counting, new Promise<void>((resolve) => (timer = setTimeout(resolve, ACCOUNT_COUNT_TIMEOUT_MS)))]);
        clearTimeout(timer);
      }
      if (counted === undefined) return;
      // Every state, also when no account has it: a series that vanishes breaks rate() and alerts.
      for (const status of new Set<string>([...ACCOUNT_STATUSES, ...counted.counts.keys()])) this.set({ status }, counted.counts.get(status) ?? 0);
    },
  });
  // Load per replica on the shared database (README's scaling-out estimate rests on it).
  const sent = { statements: 0, notifies: 0 };
  for (const [kind, help] of [
    ["statements", "Statements this replica sent to PostgreSQL (transactions' BEGIN/COMMIT and the lease included; 0 on PGlite)"],
    ["notifies", "NOTIFYs among those statements (work handed to other replicas)"],
  ] as const) {
    new Counter({ name: `agenthub_database_${kind}_total`, help, registers, collect() {
      const now = deps.database.statementCounts()[kind];
      this.inc(now - sent[kind]);
      sent[kind] = now;
    } });
  }
  const activation = new Histogram({
    name: "agenthub_activation_seconds",
    help: "PATCH ACTIVE until the account is ACTIVE (an agent confirmed it), as seen by the replica that took the PATCH",
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers,
  });
  const failover = new Histogram({
    name: "agenthub_failover_seconds",
    help: "End of a caching holder's stream until its account has a new caching holder",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const operations = new Counter({
    name: "agenthub_operations_total",
    help: "Operations taken by this replica, by outcome: the agent's (OK, UNREACHABLE, ERROR) or the gRPC code of a failure (deadline_exceeded, unavailable, not_found, ...)",
    labelNames: ["outcome"],
    registers,
  });
  const operationSeconds = new Histogram({
    name: "agenthub_operation_seconds",
    help: "Operations taken by this replica, from request to answer or failure",
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const batchSeconds = new Histogram({
    name: "agenthub_engine_batch_seconds",
    help: "Assignment engine batches: one transaction for the events gathered (retries included)",
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });

  /** Account → when this replica's API asked for its activation. */
  const activating = new Map<string, number>();
  /** Agent → when its stream ended. */
  const departed = new Map<string, number>();
  /** Account → when its caching holder's stream ended, while it has no new caching holder. */
  const failingOver = new Map<string, number>();

  function activationSeen(d: AccountDraft, now: number): void {
    const since = activating.get(d.name);
    if (since === undefined) return;
    if (!d.deleted && d.status === AccountStatus.ACTIVE) {
      // An account that was ACTIVE already had nothing to wait for.
      if (d.stored.status !== AccountStatus.ACTIVE) activation.observe((now - since) / 1000);
      activating.delete(d.name);
    } else if (d.deleted || !ON_ITS_WAY.has(d.status)) {
      activating.delete(d.name);
    }
  }

  function failoverSeen(d: AccountDraft, now: number): void {
    let since = failingOver.get(d.name);
    for (const [agentId, caching] of d.heldBefore) {
      const left = departed.get(agentId);
      if (caching && left !== undefined && !d.holders.has(agentId)) since = left;
    }
    if (since === undefined) return;
    const served = !d.deleted && (d.status === AccountStatus.ACTIVE || ON_ITS_WAY.has(d.status));
    if (served && cachingHolder(d) !== undefined) {
      failover.observe((now - since) / 1000);
      failingOver.delete(d.name);
    } else if (served) {
      failingOver.set(d.name, since);
    } else {
      failingOver.delete(d.name);
    }
  }

  const observer: HubObserver = {
    batchCommitted(seconds, drafts) {
      batchSeconds.observe(seconds);
      const now = Date.now();
      for (const d of drafts) {
        activationSeen(d, now);
        failoverSeen(d, now);
      }
      forgetBefore(activating, now - FORGET_AFTER_MS);
      forgetBefore(failingOver, now - FORGET_AFTER_MS);
      forgetBefore(departed, now - DEPARTURE_MEMORY_MS);
    },
    agentLeft(agentId) {
      // Re-inserted, so that the map stays in time order for forgetBefore.
      departed.delete(agentId);
      departed.set(agentId, Date.now());
    },
  };

  return {
    observer,
    watchReconciler: (reconciler) => ({
      accountsChanged(changes) {
        const now = Date.now();
        for (const c of changes) if (c.kind === "activate" && !activating.has(c.name)) activating.set(c.name, now);
        return reconciler.accountsChanged(changes);
      },
    }),
    watchOperations: (service) => ({
      ...service,
      async execute(req, ctx) {
        const end = operationSeconds.startTimer();
        try {
          const res = await service.execute(req, ctx);
          operations.inc({ outcome: res.outcome });
          return res;
        } catch (err) {
          operations.inc({ outcome: codeLabel(ConnectError.from(err).code) });
          throw err;
        } finally {
          end();
        }
      },
    }),
    contentType: registry.contentType,
    async scrape() {
      return (await nodeMetrics.metrics()) + "\n" + (await registry.metrics());
    },
  };
}
