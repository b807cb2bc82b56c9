import { sql } from "drizzle-orm";
import type { Logger } from "../log/logger.js";
import type { Database, Db } from "../store/database.js";
import { AccountSource, AccountStatus as State } from "../model/account-states.js";
import { queryRows } from "../store/query-rows.js";
import { inTransaction } from "../store/transaction.js";
import type { Clock } from "./clock.js";

export interface StaticCleanupDeps {
  database: Database;
  clock: Clock;
  logger: Logger;
  cleanupAfterMs: number;
}

/** Removes static accounts nobody has held for `staticAccounts.cleanupAfter`. */
export interface StaticCleanup {
  start(): void;
  stop(): Promise<void>;
}

/** The first key of the cleanup's advisory lock (autoscan uses 7002); the second is the schema's hash. */
const CLEANUP_LOCK_CLASS = 7003;

/**
 * A static account whose last holder left is ORPHANED (or FAILED when its agent rejected it)
 * and stays listed, so that operators see the loss; after `cleanupAfter` without a holder it is
 * removed. The time comes from the row's `updated_at`, which the engine sets when it orphans the
 * account, so the rule holds across restarts and on every replica.
 */
export function createStaticCleanup(deps: StaticCleanupDeps): StaticCleanup {
  const { database, clock, logger, cleanupAfterMs } = deps;
  let stopTimer: (() => void) | undefined;
  let sweeping: Promise<void> | undefined;

  /** One replica sweeps at a time (design section 11: leader-only jobs take an advisory lock); the others skip the tick. */
  async function sweepAsLeader(tx: Db): Promise<{ name: string }[]> {
    const [row] = await queryRows<{ granted: boolean }>(tx, sql`SELECT pg_try_advisory_xact_lock(${CLEANUP_LOCK_CLASS}, hashtext(coalesce(current_schema(), ''))) AS granted`);
    if (row?.granted !== true) return [];
    return queryRows<{ name: string }>(
      tx,
      sql`
        DELETE FROM kubesvc_accounts a
        WHERE a.source = ${AccountSource.STATIC} AND a.status IN (${State.ORPHANED}, ${State.FAILED})
          AND a.updated_at < now() - ${cleanupAfterMs} * interval '1 millisecond'
          AND NOT EXISTS (SELECT 1 FROM kubesvc_assignments s WHERE s.account_name = a.name)
        RETURNING a.name`,
    );
  }

  async function sweep(): Promise<void> {
    try {
      const removed = await inTransaction(database, sweepAsLeader);
      if (removed.length > 0) logger.info({ accounts: removed.map((r) => r.name) }, "removed static accounts no agent registered again");
    } catch (err) {
      logger.error({ err }, "static account cleanup failed");
    }
  }

  return {
    start() {
      const every = Math.min(60_000, Math.max(10, Math.floor(cleanupAfterMs / 2)));
      stopTimer ??= clock.every(every, () => {
        sweeping ??= sweep().finally(() => (sweeping = undefined));
      });
    },
    async stop() {
      stopTimer?.();
      stopTimer = undefined;
      await sweeping;
    },
  };
}
