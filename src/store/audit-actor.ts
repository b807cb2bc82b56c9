import { sql } from "drizzle-orm";
import type { Db } from "./database.js";

/**
 * Names who is making the change in transaction `tx` (a credential name, `anonymous` or
 * `autoscan`), for `kubesvc_account_events` (design section 14): the trigger on
 * `kubesvc_accounts` reads the transaction-local setting `agenthub.actor`, and a transaction
 * without it is the hub's own (recorded as `hub`). The actor is passed down explicitly rather
 * than kept in an AsyncLocalStorage: that turns on promise hooks for every promise of the
 * process, agent streams included (3 % of the hub's CPU in a 4,000-agent profile).
 */
export async function setTransactionActor(tx: Db, actor: string | undefined): Promise<void> {
  if (actor !== undefined) await tx.execute(sql`SELECT set_config('agenthub.actor', ${actor}, true)`);
}
