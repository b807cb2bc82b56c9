import { sql } from "drizzle-orm";
import type { Logger } from "../log/logger.js";
import type { Database, Db } from "../store/database.js";
import { queryRows } from "../store/query-rows.js";
import { AccountStatus as State } from "../model/account-states.js";
import { inTransaction } from "../store/transaction.js";
import type { Clock } from "./clock.js";
import type { AccountChange } from "./reconciler.js";

/** The first key of the sweep's advisory lock (autoscan 7002, static cleanup 7003); the second is the schema's hash. */
const SWEEP_LOCK_CLASS = 7004;
/** Accounts one sweep hands to the engine at most; the next sweep takes the rest. */
const SWEEP_LIMIT = 1000;

export interface TransientSweepDeps {
  database: Database;
  clock: Clock;
  logger: Logger;
  /** How often to look (a few `hub.heartbeatInterval`s). */
  everyMs: number;
  /**
   * How long a transient account may go without any write before it counts as forgotten. Every
   * step of a placement writes the row (rounds, answers, and deadlines end each unanswered
   * request within `assignTimeout`), so this is longer than any step.
   */
  staleMs: number;
  /** Gives the engine the forgotten accounts, as if the API had just asked again. */
  changed(changes: AccountChange[]): Promise<void>;
}

export interface TransientSweep {
  start(): void;
  stop(): Promise<void>;
}

/**
 * A 202 is a promise (design section 15): an API change whose engine event was lost (the
 * replica died between the API's commit and its batch, or the batch could never be written)
 * leaves its account transient with nobody working on it. The sweep finds accounts in
 * ACTIVATING, TO_DEACTIVATE or DELETING whose row has not changed for `staleMs`, and hands them
 * to the engine again: ACTIVATING is placed afresh, TO_DEACTIVATE and DELETING tell their
 * holders again or finish at once without holders. One replica sweeps at a time.
 */
export function createTransientSweep(deps: TransientSweepDeps): TransientSweep {
  const { database, clock, logger, everyMs, staleMs } = deps;
  let stopTimer: (() => void) | undefined;
  let sweeping: Promise<void> | undefined;

  async function forgotten(tx: Db): Promise<{ name: string; status: string }[]> {
    const [lock] = await queryRows<{ granted: boolean }>(tx, sql`SELECT pg_try_advisory_xact_lock(${SWEEP_LOCK_CLASS}, hashtext(coalesce(current_schema(), ''))) AS granted`);
    if (lock?.granted !== true) return [];
    return queryRows<{ name: string; status: string }>(
      tx,
      sql`SELECT name, status FROM kubesvc_accounts
          WHERE status IN (${State.ACTIVATING}, ${State.TO_DEACTIVATE}, ${State.DELETING})
            AND updated_at < now() - ${staleMs} * interval '1 millisecond'
          ORDER BY updated_at LIMIT ${SWEEP_LIMIT}`,
    );
  }

  async function sweep(): Promise<void> {
    try {
      const rows = await inTransaction(database, forgotten);
      if (rows.length === 0) return;
      const kinds: Record<string, AccountChange["kind"]> = { [State.ACTIVATING]: "activate", [State.TO_DEACTIVATE]: "deactivate", [State.DELETING]: "delete" };
      logger.warn({ accounts: rows.length, first: rows[0]?.name }, "accounts left transient without anyone working on them; handing them to the engine again");
      await deps.changed(rows.map((r) => ({ name: r.name, kind: kinds[r.status] ?? "activate", reason: "(finished by the hub's sweep)" })));
    } catch (err) {
      logger.error({ err }, "transient account sweep failed");
    }
  }

  return {
    start() {
      stopTimer ??= clock.every(everyMs, () => {
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
