import type { AccountDraft } from "./account-draft.js";

/**
 * What the hub tells whoever watches it (metrics): a few call sites in the hub, no dependency on
 * a metrics library. Calls are synchronous and must not throw.
 */
export interface HubObserver {
  /** An engine batch committed after `seconds` (its transaction, retries included); `drafts` are the accounts it handled. */
  batchCommitted(seconds: number, drafts: Iterable<AccountDraft>): void;
  /** An agent stream of this replica ended (the caching roles it held fail over from now). */
  agentLeft(agentId: string): void;
}

/** The observer when nobody watches. */
export const noHubObserver: HubObserver = {
  batchCommitted() {},
  agentLeft() {},
};
