import type { TargetState } from "./account-changes.js";

/** Account states (design section 4, normative names). */
export const AccountState = {
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

/** Sources of accounts (design section 3). */
export const AccountSource = {
  /** Hub-stored: created, migrated, autoscanned or intercepted. */
  CLOUDDRIVER: "clouddriver",
  /** Registered by agents from their own config; read-only through the API. */
  STATIC: "static-agent-config",
} as const;

/** What a PATCH does to an account in a given state. */
export type StateTransition =
  | { kind: "move"; status: string }
  /** Accepted, but the state stays (PATCH ACTIVE on ACTIVATING). */
  | { kind: "keep" }
  | { kind: "refuse"; reason: string };

const ACTIVATABLE: ReadonlySet<string> = new Set([AccountState.INACTIVE, AccountState.FAILED, AccountState.ORPHANED, AccountState.ACTIVE]);

/**
 * The transition PATCH makes (design section 4): ACTIVE is accepted from INACTIVE, FAILED,
 * ORPHANED and ACTIVE (re-sends to the holders) and is a no-op on ACTIVATING; INACTIVE from every
 * state but DELETING. The hub takes the account on from the transient state written here.
 */
export function transitionFor(current: string, target: TargetState): StateTransition {
  if (target === "ACTIVE") {
    if (ACTIVATABLE.has(current)) return { kind: "move", status: AccountState.ACTIVATING };
    if (current === AccountState.ACTIVATING) return { kind: "keep" };
    return { kind: "refuse", reason: `cannot be activated while ${current}` };
  }
  if (current === AccountState.DELETING) return { kind: "refuse", reason: "cannot be deactivated while DELETING" };
  return { kind: "move", status: AccountState.TO_DEACTIVATE };
}
