import type { AccountChange, AccountReconciler } from "../hub/reconciler.js";
import type { Logger } from "../log/logger.js";
import type { Database } from "../store/database.js";

/** What the account handlers work with. */
export interface AccountContext {
  database: Database;
  /** The schema of Clouddriver's `accounts` table ("" = search path). */
  clouddriverSchema: string;
  reconciler: AccountReconciler;
  logger: Logger;
  /** `?dryRun=true`: transactions are rolled back and the hub is not told (design section 16). */
  dryRun?: boolean;
}

/**
 * The context of one call: with `dryRun` the handler runs as usual, so it answers exactly what
 * the real call would, but its transaction is rolled back and nothing reaches the hub or agents.
 */
export function callContext(context: AccountContext, dryRun: boolean): AccountContext {
  return dryRun ? { ...context, dryRun: true, logger: context.logger.child({ dryRun: true }) } : context;
}

/**
 * Tells the hub what a committed request changed. The change is durable and already accepted,
 * so a hub failure is logged rather than turned into an error that would suggest nothing changed.
 */
export async function notifyHub(context: AccountContext, changes: AccountChange[]): Promise<void> {
  if (changes.length === 0 || context.dryRun === true) return;
  try {
    await context.reconciler.accountsChanged(changes);
  } catch (err) {
    context.logger.error({ accounts: changes.map((c) => c.name), err }, "the hub could not act on account changes");
  }
}
