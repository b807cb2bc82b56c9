import { AccountSource, AccountStatus } from "../model/account-states.js";
import type { AgentView } from "./agent-view.js";
import { leastLoadedAgent } from "./placement.js";
import type { AgentFailure } from "./operator-messages.js";

/** The columns of `kubesvc_accounts` the engine reads. */
export interface StoredAccount {
  name: string;
  source: AccountSource;
  status: AccountStatus;
  zoneId: string | null;
  definition: Record<string, unknown>;
  agentDefinition: Record<string, unknown> | null;
  lastAssignmentMsg: string;
  failedCount: number;
}

/**
 * A round of offers (design section 4): the zones tried so far, the rounds that failed before,
 * and the last agent that could not reach the cluster.
 */
export interface Round {
  failedRounds: number;
  tried: string[];
  lastFailure: AgentFailure | undefined;
  /** True while the round has failed and the next one waits for `retryFrequency`. */
  waiting: boolean;
}

/**
 * What the engine remembers about an account between batches, beyond the database: it only
 * matters while the account is being placed, and a restarted hub re-places from scratch anyway.
 */
export interface AccountRuntime {
  round?: Round;
  /**
   * A caching role on its way from one holder to another: `from` was told caching=false, and
   * stays the caching holder in the database until it confirms, so that no replica (not even one
   * that does not know of the handoff) gives the role to anyone else meanwhile.
   */
  handoff?: { from: string; to: string | undefined };
  /** Set while a pinned account is served by a fallback zone: the zone it is pinned to then. */
  fallbackFor?: string;
}

/** One account as a batch changes it; written back as a diff after the rules ran. */
export interface AccountDraft {
  readonly name: string;
  readonly stored: Readonly<StoredAccount>;
  status: AccountStatus;
  message: string;
  failedCount: number;
  /** Changed only by static registration (the agent's config is the definition). */
  definition: Record<string, unknown>;
  zoneId: string | null;
  /** Holders by agent id → caching. */
  readonly holders: Map<string, boolean>;
  readonly heldBefore: ReadonlyMap<string, boolean>;
  rt: AccountRuntime;
  /** Schedule the next round this long after commit. */
  retryInMs: number | undefined;
  deleted: boolean;
}

/** Creates the draft of a stored account with its holders. */
export function draftOf(stored: StoredAccount, holders: Map<string, boolean>, rt: AccountRuntime | undefined): AccountDraft {
  return {
    name: stored.name,
    stored,
    status: stored.status,
    message: stored.lastAssignmentMsg,
    failedCount: stored.failedCount,
    definition: stored.definition,
    zoneId: stored.zoneId,
    holders: new Map(holders),
    heldBefore: holders,
    rt: structuredClone(rt ?? {}),
    retryInMs: undefined,
    deleted: false,
  };
}

/** What an agent is to be told about an account when the batch has committed. */
export interface Intent {
  kind: "add" | "save" | "delete";
  /** For SaveAccounts offered as fallback: the zone that could not reach the cluster. */
  fallbackFrom: string;
  /** The role to send when it differs from the holder's (only a caching role being handed off). */
  caching?: boolean;
}

/** Rule settings from the configuration. */
export interface RuleConfig {
  /** `assignment.maxHolders`: holders per account at most; 0 = every agent of the zone. */
  maxHolders: number;
  maxRetries: number;
  retryFrequencyMs: number;
  cleanupAfterMs: number;
}

/** The working set of one engine batch. */
export interface Batch {
  readonly view: AgentView;
  readonly config: RuleConfig;
  readonly drafts: Map<string, AccountDraft>;
  /** agent id → account name → intent. */
  readonly intents: Map<string, Map<string, Intent>>;
}

/** Whether agents registered the account from their own configuration (they own it; the API cannot change it). */
export function isStatic(d: AccountDraft): boolean {
  switch (d.stored.source) {
    case AccountSource.STATIC:
      return true;
    case AccountSource.CLOUDDRIVER:
      return false;
  }
}

/** The zone the account is pinned to, or undefined when unpinned. */
export function pinnedZone(d: AccountDraft): string | undefined {
  return d.zoneId === null || d.zoneId === "" ? undefined : d.zoneId;
}

/** Whether the account should be served now, so that it needs a caching holder. */
export function isServed(d: AccountDraft): boolean {
  if (d.deleted) return false;
  switch (d.status) {
    case AccountStatus.ACTIVE:
      return true;
    // A static account is never placed: it is served while its registrants hold it (ACTIVE) only.
    case AccountStatus.ACTIVATING:
      return !isStatic(d);
    case AccountStatus.INACTIVE:
    case AccountStatus.FAILED:
    case AccountStatus.ORPHANED:
    case AccountStatus.TO_MIGRATE:
    case AccountStatus.TO_DEACTIVATE:
    case AccountStatus.DEACTIVATING:
    case AccountStatus.DELETING:
      return false;
  }
}

/** Whether the holders are being told to stop serving the account (deactivation or deletion under way). */
export function isLettingGo(d: AccountDraft): boolean {
  switch (d.status) {
    case AccountStatus.DEACTIVATING:
    case AccountStatus.DELETING:
      return true;
    case AccountStatus.INACTIVE:
    case AccountStatus.ACTIVE:
    case AccountStatus.FAILED:
    case AccountStatus.ORPHANED:
    case AccountStatus.TO_MIGRATE:
    case AccountStatus.ACTIVATING:
    case AccountStatus.TO_DEACTIVATE:
      return false;
  }
}

export function cachingHolder(d: AccountDraft): string | undefined {
  for (const [agentId, caching] of d.holders) if (caching) return agentId;
  return undefined;
}

/** Holders as a list sorted by agent id. */
export function holderList(d: AccountDraft): { agentId: string; caching: boolean }[] {
  return [...d.holders].map(([agentId, caching]) => ({ agentId, caching })).sort((a, b) => (a.agentId < b.agentId ? -1 : 1));
}

/**
 * Records what to tell an agent. Later intents refine earlier ones of the same batch: an `add`
 * stays an `add` (it carries the final role), a `delete` of something the agent was never told
 * about disappears, and keeping something the agent was just told to delete becomes a `save`.
 */
export function tell(b: Batch, agentId: string, d: AccountDraft, kind: Intent["kind"], fallbackFrom = ""): void {
  let forAgent = b.intents.get(agentId);
  if (forAgent === undefined) b.intents.set(agentId, (forAgent = new Map()));
  const before = forAgent.get(d.name);
  if (kind === "delete") {
    if (d.heldBefore.has(agentId)) forAgent.set(d.name, { kind, fallbackFrom: "" });
    else forAgent.delete(d.name);
    return;
  }
  if (before?.kind === "add") return;
  if (kind === "add" && d.heldBefore.has(agentId)) kind = "save";
  // A handoff's demotion stays in the message whatever else the agent is told in the batch.
  forAgent.set(d.name, before?.caching === undefined ? { kind, fallbackFrom } : { kind, fallbackFrom, caching: before.caching });
}

/**
 * Tells the caching holder to stop caching while it stays the caching holder in the database,
 * the first step of a handoff (the second, on its answer, moves the role).
 */
export function tellDemotion(b: Batch, agentId: string, d: AccountDraft): void {
  tell(b, agentId, d, "save");
  const intent = b.intents.get(agentId)?.get(d.name);
  if (intent !== undefined) intent.caching = false;
}

/** Forgets what the agent was to be told about the account (it is gone). */
function forgetIntent(b: Batch, agentId: string, d: AccountDraft): void {
  b.intents.get(agentId)?.delete(d.name);
}

/** Makes the agent a holder with the given role (the caller tells it). */
export function addHolder(b: Batch, d: AccountDraft, agentId: string, caching: boolean): void {
  const before = d.holders.get(agentId);
  if (before === true) b.view.adjustLoad(agentId, -1);
  if (before === undefined) b.view.adjustHeld(agentId, 1);
  d.holders.set(agentId, caching);
  if (caching) b.view.adjustLoad(agentId, 1);
}

/** Removes a holder; `notify` sends it DeleteAccounts, otherwise it is gone and is told nothing. */
export function dropHolder(b: Batch, d: AccountDraft, agentId: string, notify: boolean): void {
  const caching = d.holders.get(agentId);
  if (caching === undefined) return;
  if (caching) b.view.adjustLoad(agentId, -1);
  b.view.adjustHeld(agentId, -1);
  d.holders.delete(agentId);
  if (notify) tell(b, agentId, d, "delete");
  else forgetIntent(b, agentId, d);
}

/** Changes a holder's role and tells it with SaveAccounts. */
export function setRole(b: Batch, d: AccountDraft, agentId: string, caching: boolean): void {
  const before = d.holders.get(agentId);
  if (before === undefined || before === caching) return;
  addHolder(b, d, agentId, caching);
  tellRole(b, agentId, d);
}

/** Tells a holder its role as the draft has it (calling off a demotion told earlier in the batch). */
export function tellRole(b: Batch, agentId: string, d: AccountDraft): void {
  tell(b, agentId, d, "save");
  const intent = b.intents.get(agentId)?.get(d.name);
  if (intent !== undefined) delete intent.caching;
}

/**
 * Gives the caching role to the least-loaded holder when a served account has none and no
 * handoff is on its way. Returns the promoted agent.
 */
export function promote(b: Batch, d: AccountDraft, prefer?: string): string | undefined {
  if (!isServed(d) || d.holders.size === 0 || cachingHolder(d) !== undefined) return undefined;
  const agentId = prefer !== undefined && d.holders.has(prefer) ? prefer : leastLoadedAgent(d.holders.keys(), b.view.load);
  if (agentId !== undefined) setRole(b, d, agentId, true);
  return agentId;
}

/** A holder is gone or dropped: a handoff from it is over, a handoff to it needs another target. */
export function forgetHandoff(d: AccountDraft, agentId: string): void {
  const handoff = d.rt.handoff;
  if (handoff?.from === agentId) d.rt.handoff = undefined;
  else if (handoff?.to === agentId) handoff.to = undefined;
}
