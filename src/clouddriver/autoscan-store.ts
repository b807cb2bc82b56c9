import { sql } from "drizzle-orm";
import type { Db } from "../store/database.js";
import { createAccountStore, nameIn, type AccountUpdate } from "../store/account-store.js";
import { queryRows } from "../store/query-rows.js";
import { accounts } from "../store/schema.js";

/** The origin of accounts autoscan created (design section 3). */
export const AUTOSCAN_ORIGIN = "autoscan";

/**
 * The first key of autoscan's advisory lock; the second is the hash of the schema the hub's tables
 * live in, so that hubs sharing one PostgreSQL database in different schemas (test suites, two
 * installations) do not take turns with each other, while replicas of one installation do.
 */
const SCAN_LOCK_CLASS = 7002;

/** A row of `kubesvc_accounts` as autoscan reads it. */
export type TrackedAccount = typeof accounts.$inferSelect;

/**
 * The new state of an account autoscan changes, guarded by the version and status it read;
 * `clouddriverLastModified` is Clouddriver's `last_modified_at` the definition came from, null
 * once its row is gone and dealt with.
 */
export type ScanUpdate = AccountUpdate & Required<Pick<AccountUpdate, "lastAssignmentMsg" | "clouddriverLastModified">>;

/** Autoscan's statements on the hub's own tables, inside the tick's transaction. */
export interface AutoscanStore {
  /**
   * Takes the scan lock for the rest of the transaction, if no other session holds it
   * (`pg_try_advisory_xact_lock`, on PGlite and PostgreSQL alike). False: another replica scans.
   */
  tryLock(): Promise<boolean>;
  /** The accounts named in `names`, and every account of origin `autoscan`. */
  tracked(names: readonly string[]): Promise<TrackedAccount[]>;
  /** Applies the updates, bumping `version`; throws StaleAccountsError when a row changed meanwhile. */
  apply(updates: readonly ScanUpdate[]): Promise<void>;
}

/** Binds autoscan's statements to the tick's transaction. */
export function createAutoscanStore(tx: Db): AutoscanStore {
  return {
    async tryLock() {
      const [row] = await queryRows<{ granted: boolean }>(
        tx,
        sql`SELECT pg_try_advisory_xact_lock(${SCAN_LOCK_CLASS}, hashtext(coalesce(current_schema(), ''))) AS granted`,
      );
      return row?.granted === true;
    },

    async tracked(names) {
      const named = names.length === 0 ? sql`FALSE` : nameIn(accounts.name, names);
      return tx
        .select()
        .from(accounts)
        .where(sql`${named} OR ${accounts.origin} = ${AUTOSCAN_ORIGIN}`);
    },

    apply: (updates) => createAccountStore(tx).applyUpdates(updates),
  };
}
