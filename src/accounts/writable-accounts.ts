import { Code } from "@connectrpc/connect";
import type { AccountRow, AccountStore } from "../store/account-store.js";
import { requestError, type NamesProblem } from "./api-errors.js";
import { AccountSource } from "../model/account-states.js";

/**
 * The stored row of each item's account, for a request that changes existing accounts (PATCH,
 * DELETE). Unknown accounts and static ones (agents own those) fail the whole request with
 * invalid_argument naming them.
 */
export async function writableAccounts<T extends { name: string }>(
  store: AccountStore,
  items: readonly T[],
  action: string,
): Promise<{ item: T; row: AccountRow }[]> {
  const rows = new Map((await store.findByNames(items.map((i) => i.name))).map((r) => [r.name, r]));
  const found: { item: T; row: AccountRow }[] = [];
  const unknown: string[] = [];
  const fixed: string[] = [];
  for (const item of items) {
    const row = rows.get(item.name);
    if (row === undefined) unknown.push(item.name);
    else if (row.source === AccountSource.STATIC) fixed.push(item.name);
    else found.push({ item, row });
  }
  const problems: NamesProblem[] = [];
  if (unknown.length > 0) problems.push({ names: unknown, reason: "unknown accounts" });
  if (fixed.length > 0) problems.push({ names: fixed, reason: `static accounts belong to their agents' config and cannot be ${action}` });
  if (problems.length > 0) throw requestError(Code.InvalidArgument, { fields: [], names: problems });
  return found;
}
