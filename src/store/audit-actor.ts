import { AsyncLocalStorage } from "node:async_hooks";
import { sql } from "drizzle-orm";
import type { Db } from "./database.js";

/**
 * Who is making the current change, for `kubesvc_account_events` (design section 14). The
 * trigger on `kubesvc_accounts` reads the transaction-local setting `agenthub.actor`; a
 * transaction that does not set it is the hub's own (recorded as `hub`).
 */
const actors = new AsyncLocalStorage<string>();

/** Runs `work` on behalf of `actor` (a credential name, `anonymous` or `autoscan`). */
export function runAsActor<T>(actor: string, work: () => T): T {
  return actors.run(actor, work);
}

/** Names the actor for the audit trigger inside transaction `tx`; nothing when there is none. */
export async function setTransactionActor(tx: Db): Promise<void> {
  const actor = actors.getStore();
  if (actor !== undefined) await tx.execute(sql`SELECT set_config('agenthub.actor', ${actor}, true)`);
}
