import { Outcome } from "../../gen/agenthub/v1/agent_pb.js";
import { AccountStatus } from "../model/account-states.js";
import {
  addHolder,
  tellRole,
  cachingHolder,
  dropHolder,
  forgetHandoff,
  holderList,
  isLettingGo,
  isServed,
  isStatic,
  pinnedZone,
  promote,
  setRole,
  tell,
  type AccountDraft,
  type Batch,
  type Round,
} from "./account-draft.js";
import { agentLabel, agentsLabel, formatDuration, rolesLabel, unreachableLabel, zoneLabel, type AgentFailure } from "./operator-messages.js";
import { chooseHolders, fallbackZones, leastLoadedAgent } from "./placement.js";
import { staticHolderLost } from "./static-accounts.js";

/**
 * The assignment rules of design sections 4 and 6 for one account, applied to a batch's draft.
 * Each rule changes the draft's holders, state and message and records what agents are to be
 * told; the engine writes the result and sends the messages after its transaction commits.
 */

/** An agent's answer to an account message, with what the hub had asked. */
export interface AccountAnswer {
  agentId: string;
  /** What the answered request was; "unsolicited" for an AccountResult without request id. */
  asked: "add" | "save" | "delete" | "unsolicited";
  /** The role the answered add/save carried. */
  sentCaching: boolean | undefined;
  /** The answered message told the caching holder to stop caching (a handoff's first step). */
  demotion: boolean;
  outcome: Outcome;
  message: string;
}

/** The zone of the account's current holders, for an unpinned account that should stay put. */
function currentZone(b: Batch, d: AccountDraft): string | undefined {
  for (const agentId of d.holders.keys()) {
    const zone = b.view.zoneOf(agentId);
    if (zone !== undefined) return zone;
  }
  return undefined;
}

/** No eligible agent: the account waits, holding nothing, until one connects. */
function orphan(b: Batch, d: AccountDraft, message: string): void {
  for (const agentId of [...d.holders.keys()]) dropHolder(b, d, agentId, true);
  d.status = AccountStatus.ORPHANED;
  d.message = message;
  d.rt = {};
}

/**
 * Makes every agent of `zone` a holder and no one else, keeping the caching holder when it is
 * among them and otherwise giving the role to the zone's least-loaded agent. New holders get
 * AddAccounts, or SaveAccounts with `fallback_from_zone` when offered as fallback; holders
 * outside the zone get DeleteAccounts; `resend` also re-sends to holders that stay.
 */
function moveToZone(b: Batch, d: AccountDraft, zone: string, fallbackFrom: string, resend: boolean): void {
  const agents = chooseHolders(b.view.agentsIn(zone), (id) => d.holders.has(id), b.config.maxHolders, b.view.held);
  const targets = new Set(agents);
  for (const agentId of [...d.holders.keys()]) if (!targets.has(agentId)) dropHolder(b, d, agentId, true);
  // A handoff in flight is called off: its `from` keeps the role and is told so again.
  const demoting = d.rt.handoff?.from;
  d.rt.handoff = undefined;
  const caching = cachingHolder(d) ?? leastLoadedAgent(agents, b.view.load);
  if (demoting !== undefined && demoting === caching) tellRole(b, demoting, d);
  for (const agentId of agents) {
    const role = agentId === caching;
    const before = d.holders.get(agentId);
    if (before === undefined) {
      addHolder(b, d, agentId, role);
      if (fallbackFrom !== "") tell(b, agentId, d, "save", fallbackFrom);
      else tell(b, agentId, d, "add");
    } else if (before !== role) {
      setRole(b, d, agentId, role);
    } else if (resend) {
      tell(b, agentId, d, "save");
    }
  }
}

/**
 * Places an account from scratch (design section 6): pinned → every agent of its zone, unpinned →
 * every agent of the least-loaded zone (staying in its current zone when it has one). No eligible
 * agent → ORPHANED, naming the zone. The account is ACTIVATING until an agent answers OK.
 */
export function place(b: Batch, d: AccountDraft, reason: string, resend: boolean): void {
  const pinned = pinnedZone(d);
  const zone =
    pinned !== undefined ? (b.view.agentsIn(pinned).length > 0 ? pinned : undefined) : (currentZone(b, d) ?? b.view.leastLoadedZone());
  if (zone === undefined) {
    orphan(b, d, `${reason}; ${pinned !== undefined ? `no agent of ${zoneLabel(pinned)} is connected` : "no agent is connected"}`);
    return;
  }
  const failedRounds = d.rt.round?.failedRounds ?? 0;
  d.rt = { round: { failedRounds, tried: [zone], lastFailure: undefined, waiting: false } };
  moveToZone(b, d, zone, "", resend);
  d.status = AccountStatus.ACTIVATING;
  d.message = `${reason}; sent to ${zoneLabel(zone)}: ${rolesLabel(holderList(d))}`;
}

/** PATCH ACTIVE (the API wrote ACTIVATING): place it afresh; an activation already under way is left alone. */
export function activate(b: Batch, d: AccountDraft): void {
  if (isStatic(d) || d.status !== AccountStatus.ACTIVATING || d.rt.round !== undefined) return;
  d.failedCount = 0;
  d.rt = {};
  place(b, d, "activated", true);
}

/** PATCH INACTIVE or DELETE (the API wrote TO_DEACTIVATE or DELETING): tell the holders to stop. */
export function deactivate(b: Batch, d: AccountDraft, deleting: boolean, reason?: string): void {
  if (isStatic(d) || d.status !== (deleting ? AccountStatus.DELETING : AccountStatus.TO_DEACTIVATE)) return;
  d.rt = {};
  const cause = reason === undefined || reason === "" ? "" : ` ${reason}`;
  if (d.holders.size === 0) {
    if (deleting) d.deleted = true;
    d.status = AccountStatus.INACTIVE;
    d.message = `deactivated${cause}; no agent held it`;
    return;
  }
  const holders = [...d.holders.keys()].sort();
  for (const agentId of holders) tell(b, agentId, d, "delete");
  d.status = deleting ? AccountStatus.DELETING : AccountStatus.DEACTIVATING;
  d.message = `${deleting ? "deleting" : "deactivating"}${cause}${WAITING}${agentsLabel(holders)} to stop serving it`;
}

const WAITING = ": waiting for ";

/**
 * Why the account is being deactivated, as the deactivating message says it (" by autoscan: ..."),
 * or "" for an operator's request. Read back from the message, since the answers that finish a
 * deactivation arrive in later batches, possibly after a restart.
 */
function deactivationCause(d: AccountDraft): string {
  const m = /^deactivating/.exec(d.message);
  const end = d.message.lastIndexOf(WAITING);
  return m === null || end < 0 ? "" : d.message.slice("deactivating".length, end);
}

/** Whether a PUT moved a pinned account to another zone than the one its holders serve it from. */
function zoneChanged(b: Batch, d: AccountDraft): boolean {
  const pinned = pinnedZone(d);
  if (pinned === undefined) return false;
  if (d.rt.fallbackFor !== undefined) return d.rt.fallbackFor !== pinned;
  for (const agentId of d.holders.keys()) {
    const zone = b.view.zoneOf(agentId);
    if (zone !== undefined && zone !== pinned) return true;
  }
  return false;
}

/** The definition changed (PUT, migrate, PATCH with fields): holders get it at once. */
export function updated(b: Batch, d: AccountDraft): void {
  if (isStatic(d)) return;
  if (d.status === AccountStatus.ORPHANED) {
    place(b, d, "definition updated", false);
    return;
  }
  if (!isServed(d) || d.rt.round?.waiting === true) return;
  if (zoneChanged(b, d)) {
    d.rt = {};
    place(b, d, `zone changed to ${zoneLabel(pinnedZone(d) ?? "")}`, true);
    return;
  }
  const holders = [...d.holders.keys()].sort();
  for (const agentId of holders) tell(b, agentId, d, "save");
  if (holders.length > 0) d.message = `definition updated; sent to ${agentsLabel(holders)}`;
}

/** The next round after `retryFrequency`. */
export function retry(b: Batch, d: AccountDraft): void {
  const round = d.rt.round;
  if (round?.waiting !== true || d.status !== AccountStatus.ACTIVATING) return;
  place(b, d, `round ${round.failedRounds + 1} of ${b.config.maxRetries + 1}`, false);
}

/** The hub restarted while the account had no holder left: finish what the crash interrupted. */
export function recover(b: Batch, d: AccountDraft, why: string): void {
  if (d.holders.size > 0) return;
  if (isStatic(d)) {
    staticHolderLost(b, d, why);
    return;
  }
  switch (d.status) {
    case AccountStatus.ACTIVE:
    case AccountStatus.ACTIVATING:
      d.rt = {};
      place(b, d, why, false);
      return;
    case AccountStatus.TO_DEACTIVATE:
    case AccountStatus.DEACTIVATING:
      d.status = AccountStatus.INACTIVE;
      d.message = "deactivated; no agent held it";
      return;
    case AccountStatus.DELETING:
      d.deleted = true;
      return;
    // Nothing was under way: holding nothing is what these states mean.
    case AccountStatus.INACTIVE:
    case AccountStatus.FAILED:
    case AccountStatus.ORPHANED:
    case AccountStatus.TO_MIGRATE:
      return;
  }
}

/** The last holder let go of a deactivating account: INACTIVE, saying why it was deactivated and how it ended (`what`). */
function finishIfUnheld(d: AccountDraft, what: string): void {
  if (d.holders.size > 0) return;
  switch (d.status) {
    case AccountStatus.DEACTIVATING:
      d.status = AccountStatus.INACTIVE;
      d.message = `deactivated${deactivationCause(d)}: ${what}`;
      return;
    case AccountStatus.DELETING:
      d.deleted = true;
      return;
    case AccountStatus.INACTIVE:
    case AccountStatus.ACTIVE:
    case AccountStatus.FAILED:
    case AccountStatus.ORPHANED:
    case AccountStatus.TO_MIGRATE:
    case AccountStatus.ACTIVATING:
    case AccountStatus.TO_DEACTIVATE:
      return;
  }
}

/** Moves on in the round: the next untried zone, least-loaded first, or the round has failed. */
function nextZone(b: Batch, d: AccountDraft, round: Round, failure: AgentFailure): void {
  const pinned = pinnedZone(d);
  const [zone] = fallbackZones(b.view.zoneLoads(), new Set(round.tried), pinned !== undefined);
  if (zone !== undefined) {
    round.tried.push(zone);
    if (pinned !== undefined) d.rt.fallbackFor = pinned;
    moveToZone(b, d, zone, failure.zone, false);
    d.status = AccountStatus.ACTIVATING;
    d.message = `${unreachableLabel(failure)}; trying ${zoneLabel(zone)}`;
    return;
  }
  round.failedRounds += 1;
  d.failedCount = round.failedRounds;
  const rounds = b.config.maxRetries + 1;
  if (round.failedRounds >= rounds) {
    d.status = AccountStatus.FAILED;
    d.message = `${unreachableLabel(failure)}; no zone could reach it in ${rounds} round${rounds === 1 ? "" : "s"}`;
    d.rt = {};
    return;
  }
  round.waiting = true;
  d.rt.fallbackFor = undefined;
  d.status = AccountStatus.ACTIVATING;
  d.retryInMs = b.config.retryFrequencyMs;
  d.message = `${unreachableLabel(failure)}; no zone could reach it (round ${round.failedRounds} of ${rounds}), next round in ${formatDuration(b.config.retryFrequencyMs)}`;
}

/**
 * A holder cannot reach the cluster (design section 6, fallback): it is dropped and told to stop;
 * other holders keep the account; with none left the round moves to the next zone.
 */
function unreachable(b: Batch, d: AccountDraft, failure: AgentFailure): void {
  const wasCaching = d.holders.get(failure.agentId) === true;
  dropHolder(b, d, failure.agentId, true);
  forgetHandoff(d, failure.agentId);
  if (isLettingGo(d)) {
    finishIfUnheld(d, `${unreachableLabel(failure)}; dropped it`);
    return;
  }
  if (isStatic(d)) {
    staticHolderLost(b, d, unreachableLabel(failure));
    return;
  }
  if (!isServed(d)) return;
  if (d.holders.size > 0) {
    const promoted = wasCaching ? promote(b, d) : undefined;
    d.message = `${unreachableLabel(failure)}; dropped it${promoted !== undefined ? `, Agent ${promoted} promoted to caching` : ""}`;
    return;
  }
  const round = d.rt.round ?? { failedRounds: 0, tried: [], lastFailure: undefined, waiting: false };
  d.rt.round = round;
  round.lastFailure = failure;
  if (!round.tried.includes(failure.zone)) round.tried.push(failure.zone);
  nextZone(b, d, round, failure);
}

/** OUTCOME_ERROR: the definition itself is bad; no other zone can fix it. */
function rejected(b: Batch, d: AccountDraft, failure: AgentFailure): void {
  for (const agentId of [...d.holders.keys()]) dropHolder(b, d, agentId, true);
  d.failedCount = (d.rt.round?.failedRounds ?? 0) + 1;
  d.status = AccountStatus.FAILED;
  d.message = `${agentLabel(failure.agentId, failure.zone)} rejected the account: ${failure.message === "" ? "no reason given" : failure.message}`;
  d.rt = {};
}

/** A demoted holder confirmed it stopped caching: the role goes to the handoff's target. */
function finishHandoff(b: Batch, d: AccountDraft, from: string): void {
  const to = d.rt.handoff?.to;
  d.rt.handoff = undefined;
  // `from` already knows it no longer caches: only the table changes, no message.
  addHolder(b, d, from, false);
  const promoted = promote(b, d, to);
  if (promoted !== undefined && promoted !== from) d.message = `caching moved from Agent ${from} to Agent ${promoted} to spread the zone's load`;
}

/**
 * Whether `answered` leaves an account alone for this answer, knowing only the account's status
 * and whether a handoff of this replica waits on it: an OK to an AddAccounts/SaveAccounts that is
 * no demotion, while the account is not ACTIVATING and no handoff waits. Such answers need no
 * batch (a reconnect re-sends every holder its accounts, and each answers OK).
 */
export function answerChangesNothing(answer: Pick<AccountAnswer, "asked" | "outcome" | "demotion">, status: AccountStatus, handoffWaiting: boolean): boolean {
  return (
    answer.outcome === Outcome.OK &&
    (answer.asked === "add" || answer.asked === "save") &&
    !answer.demotion &&
    status !== AccountStatus.ACTIVATING &&
    !handoffWaiting
  );
}

/** An agent answered AddAccounts, SaveAccounts or DeleteAccounts, or reported a lost cluster. */
export function answered(b: Batch, d: AccountDraft, answer: AccountAnswer): void {
  const { agentId, outcome } = answer;
  if (!d.holders.has(agentId)) return;
  const failure: AgentFailure = { agentId, zone: b.view.zoneOf(agentId) ?? "", message: answer.message };
  if (answer.asked === "unsolicited") {
    if (outcome === Outcome.UNREACHABLE) unreachable(b, d, failure);
    return;
  }
  if (answer.asked === "delete") {
    // A delete that dropped a holder is done once sent; its late answer must not drop the
    // agent again after a later round made it a holder anew (the account would hold nothing).
    if (!isLettingGo(d)) return;
    if (outcome === Outcome.OK || outcome === Outcome.UNREACHABLE) {
      dropHolder(b, d, agentId, false);
      finishIfUnheld(d, outcome === Outcome.OK ? `${agentLabel(agentId, failure.zone)} stopped serving it` : `${unreachableLabel(failure)}; dropped it`);
    } else {
      d.status = AccountStatus.FAILED;
      d.message = `${agentLabel(agentId, failure.zone)} failed to delete the account: ${answer.message === "" ? "no reason given" : answer.message}`;
      d.rt = {};
    }
    return;
  }
  if (outcome === Outcome.UNREACHABLE) {
    unreachable(b, d, failure);
    return;
  }
  if (outcome !== Outcome.OK) {
    rejected(b, d, failure);
    return;
  }
  // The handoff may have been started by another replica (its memory is not shared): a caching
  // holder confirming caching=false is one, whoever started it.
  if (answer.demotion && d.holders.get(agentId) === true) finishHandoff(b, d, agentId);
  // A later message gave the role back to the agent this replica was demoting (another replica
  // re-sent its role): that demotion's answer no longer counts, so the handoff is off.
  else if (answer.sentCaching === true && d.rt.handoff?.from === agentId) d.rt.handoff = undefined;
  if (d.status !== AccountStatus.ACTIVATING || isStatic(d)) return;
  const role = d.holders.get(agentId) === true ? "caching" : "operations";
  const lastFailure = d.rt.round?.lastFailure;
  d.status = AccountStatus.ACTIVE;
  d.failedCount = 0;
  d.rt = d.rt.fallbackFor !== undefined ? { fallbackFor: d.rt.fallbackFor } : {};
  d.message =
    lastFailure !== undefined
      ? `${unreachableLabel(lastFailure)}; moved to ${zoneLabel(failure.zone)}, assigned to Agent ${agentId} for ${role}`
      : `successfully assigned to Agent ${agentId} for ${role}`;
}

/**
 * A holder is gone (stream ended, missed heartbeats, hub shutdown, dead replica). Its role passes
 * to another holder at once; with no holder left a served account is placed again (unpinned: on
 * another zone; pinned: its zone, or ORPHANED when the zone has no agent left).
 */
export function holderGone(b: Batch, d: AccountDraft, agentId: string, zone: string, reason: string): void {
  if (!d.holders.has(agentId)) return;
  const wasCaching = d.holders.get(agentId) === true;
  dropHolder(b, d, agentId, false);
  forgetHandoff(d, agentId);
  const what = `${agentLabel(agentId, zone)} ${reason}`;
  if (isLettingGo(d)) {
    finishIfUnheld(d, what);
    return;
  }
  if (isStatic(d)) {
    staticHolderLost(b, d, what);
    return;
  }
  if (!isServed(d)) return;
  if (d.holders.size > 0) {
    // A holder that has the account already takes the role; a standby only fills the place.
    const promoted = wasCaching ? promote(b, d) : undefined;
    const standby = refill(b, d, zone);
    if (promoted !== undefined || standby !== undefined) {
      d.message = `${what}${promoted !== undefined ? `; Agent ${promoted} promoted to caching` : ""}${standby !== undefined ? `; Agent ${standby} took its place` : ""}`;
    }
    return;
  }
  place(b, d, what, false);
}

/**
 * A holder left a capped account (`assignment.maxHolders`): the zone's least-busy standby takes
 * its place with AddAccounts. Returns the standby.
 */
function refill(b: Batch, d: AccountDraft, zone: string): string | undefined {
  const cap = b.config.maxHolders;
  if (cap === 0 || d.holders.size >= cap || d.rt.round?.waiting === true) return undefined;
  const agents = b.view.agentsIn(currentZone(b, d) ?? zone);
  if (agents.length <= d.holders.size) return undefined;
  const [standby] = chooseHolders(agents, (id) => d.holders.has(id), d.holders.size + 1, b.view.held).filter((id) => !d.holders.has(id));
  if (standby === undefined) return undefined;
  addHolder(b, d, standby, false);
  tell(b, standby, d, "add");
  promote(b, d);
  return standby;
}

/** An agent joined the zone that serves the account: it becomes one more holder while the account has fewer than `assignment.maxHolders`. */
export function zoneGrew(b: Batch, d: AccountDraft, agentId: string): void {
  if (isStatic(d) || !isServed(d) || d.holders.has(agentId) || d.rt.round?.waiting === true) return;
  // A full account leaves the newcomer standing by.
  if (b.config.maxHolders !== 0 && d.holders.size >= b.config.maxHolders) return;
  const zone = b.view.zoneOf(agentId);
  const servedThere = [...d.holders.keys()].some((id) => b.view.zoneOf(id) === zone);
  if (!servedThere) return;
  addHolder(b, d, agentId, false);
  tell(b, agentId, d, "add");
  promote(b, d);
  if (d.status === AccountStatus.ACTIVE) d.message = `${agentLabel(agentId, zone ?? "")} connected; ${rolesLabel(holderList(d))}`;
}

/** An agent reconnected (a newer stream replaced the old one, or it came back after a hub restart): it is told again what it holds. */
export function resendTo(b: Batch, d: AccountDraft, agentId: string): void {
  if (!d.holders.has(agentId) || isStatic(d)) return;
  if (isLettingGo(d)) tell(b, agentId, d, "delete");
  else if (isServed(d)) tell(b, agentId, d, "save");
}
