import { Code } from "@connectrpc/connect";
import type { Database, Db } from "../store/database.js";
import { StaleAccountsError } from "../store/account-store.js";
import { setTransactionActor } from "../store/audit-actor.js";
import { inTransaction } from "../store/transaction.js";
import { requestError } from "./api-errors.js";

/**
 * How often a transaction that lost a race is tried in all before the caller gets 409 aborted.
 * The other writer is most often the hub itself (engines of every replica write an account's
 * row at each step of its placement), which the caller should not have to retry: with three
 * immediate attempts two replicas activating the same accounts while agents joined answered 409
 * (CI, test/replicas/contention.test.ts). Attempts are spread by a jittered, doubling pause.
 */
const ATTEMPTS = 8;
const FIRST_PAUSE_MS = 5;

/** PostgreSQL's deadlock_detected and serialization_failure: the transaction may simply be run again. */
const RETRYABLE_CODES = new Set(["40P01", "40001"]);

function sqlState(err: unknown): string | undefined {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
  }
  return undefined;
}

/** Carries a dry run's result out of the transaction it rolls back. */
class DryRunRollback<T> extends Error {
  constructor(readonly result: T) {
    super("dry run: rolled back");
  }
}

/** How an account transaction runs: rolled back as a dry run, and on behalf of whom (the audit's actor). */
export interface AccountTransactionOptions {
  dryRun?: boolean | undefined;
  actor?: string | undefined;
}

/**
 * Runs `work` in one transaction; with `dryRun` the transaction is rolled back once `work`
 * succeeded, and its result is returned as if it had committed. Updates are guarded by each row's `version` (and status); when
 * another writer got there first, the whole transaction is rolled back and run again on fresh
 * rows, up to eight times with a growing pause, and then fails with aborted (HTTP 409) naming
 * the accounts.
 */
export async function inAccountTransaction<T>(database: Database, work: (tx: Db) => Promise<T>, options: AccountTransactionOptions = {}): Promise<T> {
  const run = options.dryRun === true
    ? async (tx: Db): Promise<T> => {
        throw new DryRunRollback(await work(tx));
      }
    : work;
  for (let attempt = 1; ; attempt++) {
    try {
      return await inTransaction(database, async (tx) => {
        // The audit trigger records the caller (design section 14) in this same transaction.
        await setTransactionActor(tx, options.actor);
        return run(tx);
      });
    } catch (err) {
      if (err instanceof DryRunRollback) return err.result as T;
      const stale = err instanceof StaleAccountsError;
      const state = sqlState(err);
      const retryable = stale || (state !== undefined && RETRYABLE_CODES.has(state));
      if (!retryable) throw err;
      if (attempt >= ATTEMPTS) {
        const reason = "changed by someone else while this request ran; try again";
        throw requestError(
          Code.Aborted,
          stale ? { fields: [], names: [{ names: err.names, reason }] } : { fields: [{ field: "body", reason }], names: [] },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, FIRST_PAUSE_MS * 2 ** (attempt - 1) * (0.5 + Math.random())));
    }
  }
}
