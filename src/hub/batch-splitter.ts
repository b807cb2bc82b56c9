/**
 * When the database refuses a batch for what one event carries, the rest of the batch must still
 * commit (design section 15: a bad event fails alone). A refusal of the data — SQLSTATE class 22
 * (data exception, e.g. a character PostgreSQL cannot store), 23 (integrity) or 54 (a limit
 * exceeded) — is the same however often the batch runs, so the batch is split in halves and each
 * half runs on its own, down to the single event that is refused. Connection and server errors
 * are not split: every half would fail the same way.
 */

const DATA_CLASSES: ReadonlySet<string> = new Set(["22", "23", "54"]);

/** The SQLSTATE of a database error, looking through `cause` chains (drizzle wraps driver errors). */
export function sqlState(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; typeof e === "object" && e !== null && depth < 5; depth++) {
    const { code, cause } = e as { code?: unknown; cause?: unknown };
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
    e = cause;
  }
  return undefined;
}

/** Whether the database refused the data of a batch (rather than failing to run it). */
export function isDataRefusal(err: unknown): boolean {
  const state = sqlState(err);
  return state !== undefined && DATA_CLASSES.has(state.slice(0, 2));
}

/** The two halves a refused batch is run as. */
export function halves<T>(items: readonly T[]): [T[], T[]] {
  const middle = Math.ceil(items.length / 2);
  return [items.slice(0, middle), items.slice(middle)];
}

/** The database's own words for a refusal, without statement text or parameters (they may hold secrets). */
export function refusalText(err: unknown): string {
  for (let e: unknown = err, depth = 0; typeof e === "object" && e !== null && depth < 5; depth++) {
    const { code, message, cause } = e as { code?: unknown; message?: unknown; cause?: unknown };
    if (typeof code === "string" && typeof message === "string" && !message.startsWith("Failed query")) return `${message} (SQLSTATE ${code})`;
    e = cause;
  }
  return `SQLSTATE ${sqlState(err) ?? "unknown"}`;
}
