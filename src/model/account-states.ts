/**
 * The account vocabulary every layer shares: states (design section 4) and sources (section 3),
 * as string-literal unions so that the compiler and the linter's switch-exhaustiveness-check see
 * every rule that must handle them. They travel as plain strings (REST, proto, database); values
 * read from outside are checked here, once, by `parseAccountStatus` and `parseAccountSource`.
 */

/** Account states, normative names (design section 4). */
export const AccountStatus = {
  INACTIVE: "INACTIVE",
  ACTIVE: "ACTIVE",
  FAILED: "FAILED",
  ORPHANED: "ORPHANED",
  TO_MIGRATE: "TO_MIGRATE",
  ACTIVATING: "ACTIVATING",
  TO_DEACTIVATE: "TO_DEACTIVATE",
  DEACTIVATING: "DEACTIVATING",
  DELETING: "DELETING",
} as const;

/** One of the account states. */
export type AccountStatus = (typeof AccountStatus)[keyof typeof AccountStatus];

/** Every account state, in the order design section 4 names them. */
export const ACCOUNT_STATUSES: readonly AccountStatus[] = Object.values(AccountStatus);

/** Sources of accounts (design section 3). */
export const AccountSource = {
  /** Hub-stored: created, migrated, autoscanned or intercepted. */
  CLOUDDRIVER: "clouddriver",
  /** Registered by agents from their own config; read-only through the API. */
  STATIC: "static-agent-config",
} as const;

/** One of the account sources. */
export type AccountSource = (typeof AccountSource)[keyof typeof AccountSource];

/** Every account source. */
export const ACCOUNT_SOURCES: readonly AccountSource[] = Object.values(AccountSource);

const STATUS_SET: ReadonlySet<string> = new Set(ACCOUNT_STATUSES);
const SOURCE_SET: ReadonlySet<string> = new Set(ACCOUNT_SOURCES);

/** Whether `value` is an account state name. */
export function isAccountStatus(value: unknown): value is AccountStatus {
  return typeof value === "string" && STATUS_SET.has(value);
}

/** Whether `value` is an account source. */
export function isAccountSource(value: unknown): value is AccountSource {
  return typeof value === "string" && SOURCE_SET.has(value);
}

/**
 * A stored value that is not one of the known states or sources: a row written by a newer or
 * foreign program, or a corrupted one. Refused rather than passed on, since no rule handles it.
 */
export class UnknownAccountValueError extends Error {
  override name = "UnknownAccountValueError";
  /**
   * The SQLSTATE PostgreSQL gives a value outside an enum type (invalid_text_representation), so
   * that the engine treats it as the data refusal it is: the batch that read the row is split and
   * only the event that touched it fails (src/hub/batch-splitter.ts).
   */
  readonly code = "22P02";
  constructor(
    readonly field: "status" | "source",
    readonly value: unknown,
  ) {
    super(`unknown account ${field} ${JSON.stringify(value)}; known: ${(field === "status" ? ACCOUNT_STATUSES : ACCOUNT_SOURCES).join(", ")}`);
  }
}

/** `value` as an account state; throws UnknownAccountValueError for anything else. */
export function parseAccountStatus(value: unknown): AccountStatus {
  if (isAccountStatus(value)) return value;
  throw new UnknownAccountValueError("status", value);
}

/** `value` as an account source; throws UnknownAccountValueError for anything else. */
export function parseAccountSource(value: unknown): AccountSource {
  if (isAccountSource(value)) return value;
  throw new UnknownAccountValueError("source", value);
}
