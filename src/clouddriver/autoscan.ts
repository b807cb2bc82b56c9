import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { notifyHub, type AccountContext } from "../accounts/account-context.js";
import { agentDefinitionOf, newAccount, readClouddriverBody, zoneIdOf } from "../accounts/account-definition.js";
import { AccountStatus } from "../model/account-states.js";
import { inAccountTransaction } from "../accounts/optimistic-transaction.js";
import { systemClock, type Clock } from "../hub/clock.js";
import type { AccountChange, AccountReconciler } from "../hub/reconciler.js";
import type { Logger } from "../log/logger.js";
import { createAccountStore, type NewAccount } from "../store/account-store.js";
import type { Database } from "../store/database.js";
import { planScan, unhanded, type Refresh, type Removal } from "./autoscan-plan.js";
import { AUTOSCAN_ORIGIN, createAutoscanStore, type ScanUpdate } from "./autoscan-store.js";
import { clouddriverTableLabel, createClouddriverAccounts, type ClouddriverAccount } from "../store/clouddriver-accounts.js";

/** `autoscan.*` of the configuration. */
export interface AutoscanSettings {
  frequencyMs: number;
  namePatterns: string[];
  batchSize: number;
}

export interface AutoscanDeps {
  database: Database;
  /** The schema of Clouddriver's `accounts` table ("" = search path). */
  clouddriverSchema: string;
  settings: AutoscanSettings;
  reconciler: AccountReconciler;
  logger: Logger;
  /** Timers; the system clock unless a test drives them. */
  clock?: Clock;
}

/** What one scan did. */
export interface ScanReport {
  /** scanned; locked: another replica was scanning, so this one did nothing; no-table: Clouddriver's table is missing. */
  outcome: "scanned" | "locked" | "no-table";
  /** New accounts migrated, and accounts whose row came back; all handed to the hub as ACTIVATING. */
  activated: string[];
  /** Accounts that got the changed definition of their Clouddriver row. */
  updated: string[];
  /** Accounts whose Clouddriver row is gone, handed to the hub to deactivate. */
  deactivated: string[];
  /** INACTIVE accounts whose Clouddriver row is gone, now saying so in `lastAssignmentMsg`. */
  noted: string[];
  /** New accounts left for later scans by `autoscan.batchSize`. */
  waiting: number;
}

/**
 * Clouddriver autoscan (design section 10). Each tick runs in one transaction that first takes an
 * advisory lock, so one replica scans at a time; the others skip the tick.
 */
export interface Autoscan {
  /** Scans every `autoscan.frequency`, the first time one frequency after start. */
  start(): void;
  /** Stops the timer and waits for a scan under way. */
  stop(): Promise<void>;
  /** Scans now (after a scan under way, never at the same time) and says what it did. */
  scanOnce(): Promise<ScanReport>;
}

/** The result of one locked transaction: what to tell the hub, and the report. */
interface Pass {
  report: ScanReport;
  changes: AccountChange[];
}

/** JSON with object keys sorted, to compare definitions whatever order jsonb gave their keys. */
function canonical(value: JsonValue): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k]!)}`).join(",")}}`;
}

function emptyReport(outcome: ScanReport["outcome"]): ScanReport {
  return { outcome, activated: [], updated: [], deactivated: [], noted: [], waiting: 0 };
}

/** A new account as autoscan stores it: migrated and activated at once (TO_MIGRATE → INACTIVE → ACTIVATING). */
function freshAccount(source: ClouddriverAccount): NewAccount {
  const definition = readClouddriverBody(source.name, source.body);
  return { ...newAccount({ name: source.name, definition }, AUTOSCAN_ORIGIN, source.lastModifiedAt), status: AccountStatus.ACTIVATING };
}

/** The changed definition; a zoneId set on the hub (migrate, PATCH) stays when the new body has none. */
function refreshed(r: Refresh, source: ClouddriverAccount): { update: ScanUpdate; change: AccountChange | undefined } {
  const { row } = r;
  const body = readClouddriverBody(row.name, source.body);
  const definition: JsonObject = zoneIdOf(body) === null && row.zoneId !== null ? { ...body, zoneId: row.zoneId } : body;
  const update: ScanUpdate = {
    name: row.name,
    expectedVersion: row.version,
    expectedStatus: row.status,
    status: r.activate ? AccountStatus.ACTIVATING : row.status,
    zoneId: zoneIdOf(definition),
    definition,
    agentDefinition: agentDefinitionOf(definition),
    failedCount: r.activate ? 0 : row.failedCount,
    lastAssignmentMsg: row.lastAssignmentMsg,
    clouddriverLastModified: source.lastModifiedAt,
  };
  if (r.activate) return { update, change: { name: row.name, kind: "activate" } };
  const same = canonical(definition) === canonical(row.definition as JsonObject);
  return { update, change: same ? undefined : { name: row.name, kind: "update" } };
}

/**
 * A gone row: the account is deactivated with a message saying why. The hub writes its own
 * message while it deactivates, so once the account is INACTIVE the reason is written again and
 * `clouddriver_last_modified` cleared: the removal is dealt with, and an operator who activates
 * the account again is not overruled by the next tick.
 */
function removed(r: Removal, message: string): ScanUpdate {
  const { row } = r;
  return {
    name: row.name,
    expectedVersion: row.version,
    expectedStatus: row.status,
    status: r.step === "deactivate" ? AccountStatus.TO_DEACTIVATE : row.status,
    zoneId: row.zoneId,
    definition: row.definition,
    agentDefinition: row.agentDefinition,
    failedCount: row.failedCount,
    lastAssignmentMsg: message,
    clouddriverLastModified: r.step === "deactivate" ? row.clouddriverLastModified : null,
  };
}

/** Creates the autoscan; nothing runs until `start` or `scanOnce`. */
export function createAutoscan(deps: AutoscanDeps): Autoscan {
  const { database, clouddriverSchema, settings, reconciler, logger } = deps;
  const clock = deps.clock ?? systemClock;
  const context: AccountContext = { database, clouddriverSchema, reconciler, logger };
  const table = clouddriverTableLabel(clouddriverSchema);
  const removalReason = `by autoscan: its row was removed from Clouddriver's accounts table ${table}`;
  const removedMessage = `deactivated ${removalReason}`;
  let lastOutcome: ScanReport["outcome"] | undefined;

  /** One locked transaction: reads both tables, writes the hub's, and returns what the hub must hear. */
  function pass(newLimit: number): Promise<Pass> {
    // Recorded as `autoscan` in the audit history, whoever started the scan.
    return inAccountTransaction(database, async (tx): Promise<Pass> => {
      const store = createAutoscanStore(tx);
      if (!(await store.tryLock())) return { report: emptyReport("locked"), changes: [] };
      const clouddriver = createClouddriverAccounts(tx, clouddriverSchema);
      // Without the table every account would look gone: do nothing rather than deactivate them all.
      if (!(await clouddriver.exists())) return { report: emptyReport("no-table"), changes: [] };

      const handed = await clouddriver.listHandedToAgents(settings.namePatterns);
      const tracked = await store.tracked(handed.map((h) => h.name));
      const stillInTable = await clouddriver.presentNames(unhanded(handed, tracked).map((row) => row.name));
      const plan = planScan({ handed, tracked, stillInTable, newLimit });
      if (plan.unusable.length > 0) logger.warn({ accounts: plan.unusable }, "autoscan skips Clouddriver rows whose names cannot be account names");

      // A row deleted between the listing and this read is simply not taken this time.
      const sources = await clouddriver.findByNames([...plan.fresh.map((s) => s.name), ...plan.refresh.map((r) => r.row.name)]);
      const fresh = plan.fresh.flatMap((s) => {
        const source = sources.get(s.name);
        return source === undefined ? [] : [freshAccount(source)];
      });
      // A name created through the API since the read is that account's now, not autoscan's.
      const inserted = await createAccountStore(tx).insertNew(fresh);
      const refreshes = plan.refresh.flatMap((r) => {
        const source = sources.get(r.row.name);
        return source === undefined ? [] : [refreshed(r, source)];
      });
      await store.apply([...refreshes.map((r) => r.update), ...plan.removals.map((r) => removed(r, removedMessage))]);

      const changes: AccountChange[] = [
        ...inserted.map((name): AccountChange => ({ name, kind: "activate" })),
        ...refreshes.flatMap((r) => (r.change === undefined ? [] : [r.change])),
        ...plan.removals.flatMap((r): AccountChange[] => (r.step === "deactivate" ? [{ name: r.row.name, kind: "deactivate", reason: removalReason }] : [])),
      ];
      const report: ScanReport = {
        outcome: "scanned",
        activated: changes.filter((c) => c.kind === "activate").map((c) => c.name),
        updated: changes.filter((c) => c.kind === "update").map((c) => c.name),
        deactivated: plan.removals.filter((r) => r.step === "deactivate").map((r) => r.row.name),
        noted: plan.removals.filter((r) => r.step === "note").map((r) => r.row.name),
        waiting: plan.waiting,
      };
      return { report, changes };
    }, { actor: "autoscan" });
  }

  function log(report: ScanReport): void {
    const { outcome, activated, updated, deactivated, noted, waiting } = report;
    if (outcome === "no-table" && lastOutcome !== "no-table") {
      logger.warn({ table }, `autoscan: Clouddriver's accounts table ${table} does not exist; nothing to scan (check clouddriver.schema)`);
    } else if (outcome === "locked") {
      logger.debug("autoscan: another replica is scanning; this tick is skipped");
    } else if (activated.length + updated.length + deactivated.length + noted.length > 0 || waiting > 0) {
      logger.info({ activated: activated.length, updated: updated.length, deactivated: deactivated.length, noted: noted.length, waiting }, "autoscan scanned Clouddriver's accounts table");
    }
    lastOutcome = outcome;
  }

  async function scan(): Promise<ScanReport> {
    const first = await pass(settings.batchSize);
    await notifyHub(context, first.changes);
    let report = first.report;
    // Accounts without holders are INACTIVE as soon as the hub has heard: say why at once.
    if (report.deactivated.length > 0) {
      const second = await pass(0);
      await notifyHub(context, second.changes);
      const r = second.report;
      report = {
        ...report,
        activated: [...report.activated, ...r.activated],
        updated: [...report.updated, ...r.updated],
        noted: [...report.noted, ...r.noted],
      };
    }
    log(report);
    return report;
  }

  // Scans run one after another: a timer tick never overlaps a scanOnce from a test or itself.
  let queue: Promise<unknown> = Promise.resolve();
  let ticking: Promise<void> | undefined;
  let stopTimer: (() => void) | undefined;

  function scanOnce(): Promise<ScanReport> {
    const run = queue.then(() => scan());
    queue = run.catch(() => undefined);
    return run;
  }

  return {
    start() {
      stopTimer ??= clock.every(settings.frequencyMs, () => {
        // A tick still running when the next is due (a slow database) makes that one skip.
        ticking ??= scanOnce()
          .then(
            () => undefined,
            (err: unknown) => logger.error({ err }, "autoscan failed; the next tick tries again"),
          )
          .finally(() => (ticking = undefined));
      });
    },
    async stop() {
      stopTimer?.();
      stopTimer = undefined;
      await queue;
    },
    scanOnce,
  };
}
