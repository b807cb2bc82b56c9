import type { Account } from "../../gen/agenthub/v1/agent_pb.js";
import { AccountStatus } from "../model/account-states.js";
import { addHolder, dropHolder, holderList, isStatic, promote, tell, type AccountDraft, type Batch } from "./account-draft.js";
import { agentLabel, formatDuration, rolesLabel } from "./operator-messages.js";

/** The static accounts of one hello, deduplicated, with their names checked. */
export function staticAccountsOf(accounts: readonly Account[]): Map<string, Record<string, unknown>> {
  const byName = new Map<string, Record<string, unknown>>();
  for (const a of accounts) if (a.name.trim() !== "" && a.name === a.name.trim()) byName.set(a.name, { ...(a.config ?? {}), name: a.name });
  return byName;
}

/** An agent registering a static account from its hello. */
export interface Registrant {
  agentId: string;
  zone: string;
  config: Record<string, unknown>;
}

/**
 * Registers a static account for the agents that list it (design section 5). A name that a
 * hub-stored account already has is refused: the returned registrants are rejected. Every
 * registrant becomes a holder and is told its role with SaveAccounts right after `welcome`;
 * the caching role goes to the least-loaded holder when nobody caches the account yet.
 */
export function registerStatic(b: Batch, d: AccountDraft, registrants: readonly Registrant[]): Registrant[] {
  if (!isStatic(d)) return [...registrants];
  const last = registrants[registrants.length - 1];
  if (last === undefined) return [];
  // The agents' configuration is the definition; the latest hello wins.
  d.definition = last.config;
  if (d.holders.size === 0) d.zoneId = last.zone === "" ? null : last.zone;
  const added = registrants.filter((r) => !d.holders.has(r.agentId));
  for (const r of added) addHolder(b, d, r.agentId, false);
  const revived = d.status !== AccountStatus.ACTIVE;
  d.status = AccountStatus.ACTIVE;
  d.failedCount = 0;
  promote(b, d);
  for (const r of registrants) tell(b, r.agentId, d, "save");
  if (revived || added.length > 0) {
    const by = registrants.map((r) => agentLabel(r.agentId, r.zone)).join(", ");
    d.message = `registered by ${by} from its configuration; ${rolesLabel(holderList(d))}`;
  }
  return [];
}

/**
 * A static account lost a holder (gone, or it could not reach the cluster). With holders left the
 * role moves; with none the account turns ORPHANED, so that operators see the loss, and is removed
 * after `staticAccounts.cleanupAfter` unless an agent registers it again.
 */
export function staticHolderLost(b: Batch, d: AccountDraft, what: string): void {
  if (d.holders.size > 0) {
    const promoted = promote(b, d);
    if (promoted !== undefined) d.message = `${what}; Agent ${promoted} promoted to caching`;
    return;
  }
  if (d.status !== AccountStatus.ACTIVE) return;
  d.status = AccountStatus.ORPHANED;
  d.message = `${what}; no agent holds this static account any more (removed in ${formatDuration(b.config.cleanupAfterMs)} unless an agent registers it again)`;
}

/** An agent re-connected without this static account in its configuration: it holds it no more. */
export function staticDropped(b: Batch, d: AccountDraft, agentId: string, zone: string): void {
  if (!d.holders.has(agentId)) return;
  dropHolder(b, d, agentId, false);
  staticHolderLost(b, d, `${agentLabel(agentId, zone)} no longer lists it in its configuration`);
}
