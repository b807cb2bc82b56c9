import { sql, type SQL } from "drizzle-orm";
import type { Db } from "../store/database.js";
import { StaleAccountsError } from "../store/account-store.js";
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

/** The new state of an account autoscan changes, guarded by the version and status it read. */
export interface ScanUpdate {
  name: string;
  expectedVersion: number;
  expectedStatus: string;
  status: string;
  zoneId: string | null;
  definition: Record<string, unknown>;
  agentDefinition: Record<string, unknown> | null;
  failedCount: number;
  lastAssignmentMsg: string;
  /** Clouddriver's `last_modified_at` the definition came from; null once its row is gone and dealt with. */
  clouddriverLastModified: number | null;
}

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

function nameIn(names: readonly string[]): SQL {
  return sql`${accounts.name} IN (SELECT jsonb_array_elements_text(${JSON.stringify(names)}::jsonb))`;
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
      const named = names.length === 0 ? sql`FALSE` : nameIn(names);
      return tx
        .select()
        .from(accounts)
        .where(sql`${named} OR ${accounts.origin} = ${AUTOSCAN_ORIGIN}`);
    },

    async apply(updates) {
      if (updates.length === 0) return;
      const records = updates.map((u) => ({
        name: u.name,
        expected_version: u.expectedVersion,
        expected_status: u.expectedStatus,
        status: u.status,
        zone_id: u.zoneId,
        definition: u.definition,
        agent_definition: u.agentDefinition,
        failed_count: u.failedCount,
        message: u.lastAssignmentMsg,
        last_modified: u.clouddriverLastModified,
      }));
      const done = await queryRows<{ name: string }>(
        tx,
        sql`UPDATE ${accounts} SET
              status = u.status,
              zone_id = u.zone_id,
              definition = u.definition,
              agent_definition = u.agent_definition,
              failed_count = u.failed_count,
              last_assignment_msg = u.message,
              clouddriver_last_modified = u.last_modified,
              version = ${accounts.version} + 1,
              updated_at = now()
            FROM jsonb_to_recordset(${JSON.stringify(records)}::jsonb) AS u(
              name text, expected_version integer, expected_status text, status text, zone_id text,
              definition jsonb, agent_definition jsonb, failed_count integer, message text, last_modified bigint)
            WHERE ${accounts.name} = u.name AND ${accounts.version} = u.expected_version
              AND ${accounts.status} = u.expected_status
            RETURNING ${accounts.name} AS name`,
      );
      if (done.length === updates.length) return;
      const applied = new Set(done.map((d) => d.name));
      throw new StaleAccountsError(updates.map((u) => u.name).filter((n) => !applied.has(n)));
    },
  };
}
