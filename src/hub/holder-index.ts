import type { AccountStatus } from "../model/account-states.js";

/** An account as the engine last wrote it: its status and holders (agent → caching). */
export interface IndexedAccount {
  status: AccountStatus;
  holders: ReadonlyMap<string, boolean>;
}

/**
 * The holders of the accounts this replica's engine has handled, kept after each commit, so that
 * an operation for an account served by local streams is routed without a database round trip.
 * Another replica's batches may change an account without this one seeing it, so an entry is a
 * hint to be checked against the live streams, not the truth.
 */
export interface HolderIndex {
  get(account: string): IndexedAccount | undefined;
  set(account: string, entry: IndexedAccount): void;
  delete(account: string): void;
}

/** Creates an empty index. */
export function createHolderIndex(): HolderIndex {
  const entries = new Map<string, IndexedAccount>();
  return {
    get: (account) => entries.get(account),
    set: (account, entry) => void entries.set(account, entry),
    delete: (account) => void entries.delete(account),
  };
}
