import { desc, eq, sql } from "drizzle-orm";
import type { Db } from "./database.js";
import { queryRows } from "./query-rows.js";
import { accountEvents } from "./schema.js";

/** A row of `kubesvc_account_events`. */
export type AccountEventRow = typeof accountEvents.$inferSelect;

/** Reads and prunes the audit history the triggers on `kubesvc_accounts` write. */
export interface AccountEvents {
  /** One page of an account's events, newest first, and how many it has. */
  page(accountName: string, offset: number, limit: number): Promise<{ rows: AccountEventRow[]; total: number }>;
  /** The zone of the account's latest event ("" unpinned), undefined without events. */
  lastZone(accountName: string): Promise<string | undefined>;
  /** Deletes events older than `before`; returns how many. */
  pruneBefore(before: Date): Promise<number>;
}

/** Binds the audit queries to `executor`. */
export function createAccountEvents(executor: Db): AccountEvents {
  return {
    async page(accountName, offset, limit) {
      const rows = await executor.select().from(accountEvents).where(eq(accountEvents.accountName, accountName)).orderBy(desc(accountEvents.id)).limit(limit).offset(offset);
      const [counted] = await executor.select({ total: sql<number>`count(*)::int`.mapWith(Number) }).from(accountEvents).where(eq(accountEvents.accountName, accountName));
      return { rows, total: counted?.total ?? 0 };
    },

    async lastZone(accountName) {
      const [row] = await executor
        .select({ zoneId: accountEvents.zoneId })
        .from(accountEvents)
        .where(eq(accountEvents.accountName, accountName))
        .orderBy(desc(accountEvents.id))
        .limit(1);
      return row === undefined ? undefined : (row.zoneId ?? "");
    },

    async pruneBefore(before) {
      const [done] = await queryRows<{ removed: number }>(
        executor,
        sql`WITH gone AS (DELETE FROM ${accountEvents} WHERE ${accountEvents.at} < ${before.toISOString()}::timestamptz RETURNING 1) SELECT count(*)::int AS removed FROM gone`,
      );
      return Number(done?.removed ?? 0);
    },
  };
}
