import type { Logger } from "../log/logger.js";
import { createAccountEvents } from "../store/account-events.js";
import type { Database } from "../store/database.js";

/** Prunes `kubesvc_account_events` older than `audit.retention`. */
export interface AuditRetention {
  /** Deletes what is older than the retention now; returns how many records went. */
  pruneOnce(): Promise<number>;
  /** Prunes at start and then every hour (or every retention period, if shorter). */
  start(): void;
  stop(): void;
}

/** Creates the pruning job; any replica may run it (a DELETE by age is the same whoever runs it). */
export function createAuditRetention(deps: { database: Database; retentionMs: number; logger: Logger; now?: () => number }): AuditRetention {
  const { database, retentionMs, logger } = deps;
  const now = deps.now ?? Date.now;
  let timer: NodeJS.Timeout | undefined;
  const pruneOnce = () => createAccountEvents(database.db).pruneBefore(new Date(now() - retentionMs));
  const tick = () => {
    pruneOnce().then(
      (removed) => removed > 0 && logger.info({ removed }, "pruned audit records past audit.retention"),
      (err: unknown) => logger.warn({ err }, "pruning audit records failed; the next run tries again"),
    );
  };
  return {
    pruneOnce,
    start() {
      tick();
      timer = setInterval(tick, Math.max(1_000, Math.min(retentionMs, 3_600_000)));
      timer.unref();
    },
    stop: () => clearInterval(timer),
  };
}
