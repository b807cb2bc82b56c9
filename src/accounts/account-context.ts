import type { HandlerContext } from "@connectrpc/connect";
import { principalKey } from "../auth/principal.js";
import type { AccountChange, AccountReconciler } from "../hub/reconciler.js";
import type { Logger } from "../log/logger.js";
import type { Database } from "../store/database.js";
import type { AccountTransactionOptions } from "./optimistic-transaction.js";

/** What the account handlers work with. */
export interface AccountContext {
  database: Database;
  /** The schema of Clouddriver's `accounts` table ("" = search path). */
  clouddriverSchema: string;
  reconciler: AccountReconciler;
  logger: Logger;
  /** `?dryRun=true`: transactions are rolled back and the hub is not told (design section 16). */
  dryRun?: boolean;
  /** Who makes the call (the credential's name), recorded by the audit history. */
  actor?: string;
}

/**
 * The context of one call, made by the caller the auth interceptor put into `call`: with
 * `dryRun` the handler runs as usual, so it answers exactly what the real call would, but its
 * transaction is rolled back and nothing reaches the hub or agents.
 */
export function callContext(context: AccountContext, dryRun: boolean, call: HandlerContext): AccountContext {
  const actor = call.values.get(principalKey).name;
  return dryRun ? { ...context, actor, dryRun: true, logger: context.logger.child({ dryRun: true }) } : { ...context, actor };
}

/** How the call's account transactions run: rolled back for a dry run, audited under its caller. */
export function transactionOptions(context: AccountContext): AccountTransactionOptions {
  return { dryRun: context.dryRun, actor: context.actor };
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
