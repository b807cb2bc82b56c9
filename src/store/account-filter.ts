import { and, eq, gte, inArray, isNull, lt, type SQL } from "drizzle-orm";
import type { AccountSource, AccountStatus } from "../model/account-states.js";
import { accounts } from "./schema.js";

/** What GET /armory/accounts may select by (design section 16); absent keys select everything. */
export interface AccountFilter {
  /** Any of these states; empty or absent: every state. */
  statuses?: readonly AccountStatus[];
  /** Exactly this zone; `""` selects unpinned accounts (stored as NULL). */
  zoneId?: string;
  /** Absent or `""`: every source. */
  source?: AccountSource | "";
  /** Names starting with this text, compared byte by byte. */
  namePrefix?: string;
}

/**
 * The smallest string greater than every string that starts with `prefix`, in code-point order,
 * which is UTF-8 byte order and so `COLLATE "C"`: the prefix with its last code point raised by
 * one (carrying past U+10FFFF and skipping surrogates). Undefined when there is none.
 */
export function prefixEnd(prefix: string): string | undefined {
  const points = [...prefix].map((c) => c.codePointAt(0)!);
  while (points.length > 0) {
    let last = points.pop()! + 1;
    if (last === 0xd800) last = 0xe000;
    if (last <= 0x10ffff) return String.fromCodePoint(...points, last);
  }
  return undefined;
}

/**
 * The WHERE conditions of `filter`, to be AND-ed with any others a caller adds (e.g. the
 * caller's scope). The name prefix is a range on the primary key (byte order), so it uses the
 * index and needs no LIKE escaping.
 */
export function accountFilterConditions(filter: AccountFilter): SQL[] {
  const conditions: SQL[] = [];
  if (filter.statuses !== undefined && filter.statuses.length > 0) conditions.push(inArray(accounts.status, [...filter.statuses]));
  if (filter.zoneId !== undefined) conditions.push(filter.zoneId === "" ? isNull(accounts.zoneId) : eq(accounts.zoneId, filter.zoneId));
  if (filter.source !== undefined && filter.source !== "") conditions.push(eq(accounts.source, filter.source));
  if (filter.namePrefix !== undefined && filter.namePrefix !== "") {
    const end = prefixEnd(filter.namePrefix);
    conditions.push(end === undefined ? gte(accounts.name, filter.namePrefix) : and(gte(accounts.name, filter.namePrefix), lt(accounts.name, end))!);
  }
  return conditions;
}
