import { AccountStatus } from "../model/account-states.js";
import type { TargetState } from "./account-changes.js";

/** What a PATCH does to an account in a given state. */
export type StateTransition =
  | { kind: "move"; status: AccountStatus }
  /** Accepted, but the state stays (PATCH ACTIVE on ACTIVATING). */
  | { kind: "keep" }
  | { kind: "refuse"; reason: string };

/** PATCH ACTIVE: accepted from INACTIVE, FAILED, ORPHANED and ACTIVE (re-sends to the holders), a no-op on ACTIVATING. */
function activation(current: AccountStatus): StateTransition {
  switch (current) {
    case AccountStatus.INACTIVE:
    case AccountStatus.FAILED:
    case AccountStatus.ORPHANED:
    case AccountStatus.ACTIVE:
      return { kind: "move", status: AccountStatus.ACTIVATING };
    case AccountStatus.ACTIVATING:
      return { kind: "keep" };
    case AccountStatus.TO_MIGRATE:
    case AccountStatus.TO_DEACTIVATE:
    case AccountStatus.DEACTIVATING:
    case AccountStatus.DELETING:
      return { kind: "refuse", reason: `cannot be activated while ${current}` };
  }
}

/** PATCH INACTIVE: accepted from every state but DELETING. */
function deactivation(current: AccountStatus): StateTransition {
  switch (current) {
    case AccountStatus.DELETING:
      return { kind: "refuse", reason: "cannot be deactivated while DELETING" };
    case AccountStatus.INACTIVE:
    case AccountStatus.ACTIVE:
    case AccountStatus.FAILED:
    case AccountStatus.ORPHANED:
    case AccountStatus.TO_MIGRATE:
    case AccountStatus.ACTIVATING:
    case AccountStatus.TO_DEACTIVATE:
    case AccountStatus.DEACTIVATING:
      return { kind: "move", status: AccountStatus.TO_DEACTIVATE };
  }
}

/**
 * The transition PATCH makes (design section 4). The hub takes the account on from the
 * transient state written here.
 */
export function transitionFor(current: AccountStatus, target: TargetState): StateTransition {
  return target === "ACTIVE" ? activation(current) : deactivation(current);
}
