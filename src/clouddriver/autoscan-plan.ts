import { nameProblem } from "../model/account-names.js";
import { AccountSource, AccountStatus } from "../model/account-states.js";
import type { ClouddriverStamp } from "../store/clouddriver-accounts.js";
import { AUTOSCAN_ORIGIN, type TrackedAccount } from "./autoscan-store.js";

/** Accounts copied from Clouddriver's table, which follow its changes while autoscan runs. */
const COPIED_ORIGINS: ReadonlySet<string> = new Set([AUTOSCAN_ORIGIN, "migrated"]);

/** What one tick sees. */
export interface ScanInput {
  /** Clouddriver's rows handed to agents, in byte order of names. */
  handed: readonly ClouddriverStamp[];
  /** The hub's accounts with those names, and every account of origin `autoscan`. */
  tracked: readonly TrackedAccount[];
  /** Names of `unhanded()` accounts whose row is still in Clouddriver's table (with another type or name pattern). */
  stillInTable: ReadonlySet<string>;
  /** How many new accounts this tick may migrate (`autoscan.batchSize`). */
  newLimit: number;
}

/** An account whose Clouddriver row changed (or came back): store the new definition. */
export interface Refresh {
  row: TrackedAccount;
  stamp: ClouddriverStamp;
  /** It came back after autoscan deactivated it for being gone, and is still INACTIVE: activate it again. */
  activate: boolean;
}

/** An autoscan account whose Clouddriver row is gone. */
export interface Removal {
  row: TrackedAccount;
  /** deactivate: hand it to the hub to stop its holders; note: it is INACTIVE, record why. */
  step: "deactivate" | "note";
}

/** What one tick does. */
export interface ScanPlan {
  /** New accounts to migrate and activate, at most `newLimit`, in byte order of names. */
  fresh: ClouddriverStamp[];
  /** New accounts left for later ticks. */
  waiting: number;
  /** Handed rows whose names cannot be account names (design section 8), which autoscan leaves alone. */
  unusable: string[];
  refresh: Refresh[];
  removals: Removal[];
}

/** Autoscan accounts that still track a Clouddriver row but are not among the handed rows. */
export function unhanded(handed: readonly ClouddriverStamp[], tracked: readonly TrackedAccount[]): TrackedAccount[] {
  const names = new Set(handed.map((h) => h.name));
  return tracked.filter((row) => row.origin === AUTOSCAN_ORIGIN && row.clouddriverLastModified !== null && !names.has(row.name));
}

/** Whether the Clouddriver row is newer than what the account was copied from, or came back after it was gone. */
function changed(row: TrackedAccount, stamp: ClouddriverStamp): boolean {
  return row.clouddriverLastModified === null ? row.origin === AUTOSCAN_ORIGIN : stamp.lastModifiedAt > row.clouddriverLastModified;
}

/**
 * Decides one tick (design section 10): handed rows the hub does not have are new (the first
 * `newLimit` of them are migrated and activated); copied accounts whose row changed get the new
 * definition; autoscan accounts whose row is gone from the table are deactivated, never deleted.
 * A row that merely stopped matching (another type, a pattern removed) is not gone: autoscan only
 * acts on what Clouddriver's table says, not on its own configuration changing.
 */
export function planScan(input: ScanInput): ScanPlan {
  const byName = new Map(input.tracked.map((row) => [row.name, row]));
  const plan: ScanPlan = { fresh: [], waiting: 0, unusable: [], refresh: [], removals: [] };
  for (const stamp of input.handed) {
    const row = byName.get(stamp.name);
    if (row === undefined) {
      if (nameProblem(stamp.name) !== undefined) plan.unusable.push(stamp.name);
      else if (plan.fresh.length < input.newLimit) plan.fresh.push(stamp);
      else plan.waiting++;
      continue;
    }
    const copied = row.source === AccountSource.CLOUDDRIVER && COPIED_ORIGINS.has(row.origin);
    if (!copied || row.status === AccountStatus.DELETING || !changed(row, stamp)) continue;
    const cameBack = row.clouddriverLastModified === null && row.status === AccountStatus.INACTIVE;
    plan.refresh.push({ row, stamp, activate: cameBack });
  }
  for (const row of unhanded(input.handed, input.tracked)) {
    if (input.stillInTable.has(row.name)) continue;
    if (row.status === AccountStatus.INACTIVE) plan.removals.push({ row, step: "note" });
    // Being deactivated or deleted already: wait for the hub to finish, then note why.
    else if (row.status !== AccountStatus.TO_DEACTIVATE && row.status !== AccountStatus.DEACTIVATING && row.status !== AccountStatus.DELETING) {
      plan.removals.push({ row, step: "deactivate" });
    }
  }
  return plan;
}
