/** What an API call changed about an account, for the hub to act on. */
export interface AccountChange {
  name: string;
  /** activate: PATCH ACTIVE; deactivate: PATCH INACTIVE; delete: DELETE; update: PUT/migrate/PATCH changed the definition. */
  kind: "activate" | "deactivate" | "delete" | "update";
  /** Why, in operator words, when it was not an operator's request (e.g. autoscan's removal); kept in lastAssignmentMsg until the change is done. */
  reason?: string;
}

/**
 * The hub's side of the Dynamic Accounts API. Handlers call it after their transaction commits.
 * It resolves once the hub has made the transitions it can make at once (no agent connected →
 * ORPHANED, no holder → INACTIVE or row removed) and has sent what agents must be told; it does
 * not wait for the agents' answers.
 */
export interface AccountReconciler {
  accountsChanged(changes: AccountChange[]): Promise<void>;
}
