import { toJson } from "@bufbuild/protobuf";
import { ConnectResponseSchema, type AccountResult } from "../../gen/agenthub/v1/agent_pb.js";
import { AccountStatus as State } from "../model/account-states.js";
import type { Db } from "../store/database.js";
import {
  cachingHolder,
  draftOf,
  isServed,
  isStatic,
  promote,
  tellDemotion,
  type AccountDraft,
  type AccountRuntime,
  type Batch,
  type RuleConfig,
} from "./account-draft.js";
import { activate, answered, deactivate, holderGone, place, recover, resendTo, retry, updated, zoneGrew, type AccountAnswer } from "./account-rules.js";
import type { AgentRegistry } from "./agent-registry.js";
import type { AgentSession } from "./agent-session.js";
import { createAgentView, type AgentView } from "./agent-view.js";
import { createSlicer } from "./engine-slices.js";
import { createEngineStore, type AccountWrite, type EngineStore, type HolderRow } from "./engine-store.js";
import type { Addressed } from "./hub-mailbox.js";
import { agentLabel, zoneLabel } from "./operator-messages.js";
import { messagesFor } from "./outgoing.js";
import type { PendingRequests } from "./pending-requests.js";
import { planHandoffs, type RoleCandidate } from "./placement.js";
import type { AccountChange } from "./reconciler.js";
import { registerStatic, staticAccountsOf, staticDropped, type Registrant } from "./static-accounts.js";

/** An agent of another, dead hub replica whose holdings are to be released. */
export interface ReleasedAgent {
  agentId: string;
  zoneId: string;
  hubId: string;
}

/** What the engine is asked to handle. */
export type EngineEvent =
  | { type: "join"; session: AgentSession }
  | { type: "leave"; session: AgentSession }
  | { type: "result"; agentId: string; result: AccountResult }
  | { type: "changes"; changes: AccountChange[] }
  | { type: "retry"; name: string }
  /** `fence`: replicas whose rows the batch deletes first; only their agents (and those of replicas without a row) are released. */
  | { type: "release"; agents: ReleasedAgent[]; reason: string; fence?: string[] }
  /** Accounts left without holders (by a previous process, or a replica that died mid-batch): `why` in operator words. */
  | { type: "recover"; why: string }
  /**
   * Periodic: served accounts that an agent joined recently (here or on another replica) does not
   * hold although its zone serves them. A join and a placement running at the same time on two
   * replicas cannot see each other; this catches what they missed.
   */
  | { type: "regrow"; windowMs: number }
  | { type: "shutdown" };

/** What a committed batch still has to do: update memory, send, schedule. */
export interface Committed {
  view: AgentView;
  batch: Batch;
  joined: AgentSession[];
  /** Streams that said hello while the hub was shutting down. */
  turnedAway: AgentSession[];
  /** Streams whose hello a later hello of the same agent in the same batch replaced: to be closed. */
  superseded: AgentSession[];
  /** Agent id → the static accounts refused in its welcome. */
  rejected: Map<string, string[]>;
  departed: string[];
  answered: { requestId: string; account: string }[];
}

export interface BatchRunnerDeps {
  hubId: string;
  registry: AgentRegistry;
  pending: PendingRequests;
  /** The engine's memory of accounts being placed; read here, written after commit. */
  runtime: ReadonlyMap<string, AccountRuntime>;
  /** Accounts per local agent; batches read it and their committed views update it. */
  localHeld: Map<string, number>;
  config: RuleConfig;
  /** Agents of replicas that stopped renewing their lease this long ago are not placed on. */
  leaseTtlMs: number;
  /** Writes letters to other replicas in the batch's transaction. */
  post(tx: Db, letters: readonly Addressed[]): Promise<void>;
}

/** Who arrives and who goes in one batch. */
interface Movements {
  joins: Map<string, AgentSession>;
  turnedAway: AgentSession[];
  superseded: AgentSession[];
  leaves: Map<string, { zone: string; reason: string }>;
  released: Map<string, { zone: string; hubId: string; reason: string }>;
}

/** What a batch read before applying its rules. */
interface Loaded {
  /** Agent → accounts it holds, for arriving and departing agents. */
  heldBy: Map<string, string[]>;
  /** Arriving agent → the zone it had when it was last registered. */
  zoneBefore: Map<string, string>;
  /** Arriving agent → the other replica that held its stream until now. */
  takenFrom: Map<string, string>;
  /**
   * Departing agents that have reconnected to another replica meanwhile: what they hold is that
   * replica's now, so their departure here releases nothing.
   */
  movedAway: Set<string>;
  statics: Map<string, Registrant[]>;
  /** Served accounts of the zones that gained agents. */
  served: Set<string>;
  orphans: string[];
  recovering: string[];
  /** Account → agents that should hold it as members of its serving zone (regrow events). */
  missing: Map<string, string[]>;
  answers: { name: string; answer: AccountAnswer; requestId: string }[];
  drafts: Map<string, AccountDraft>;
}

/**
 * One engine batch inside its transaction: sort the events into arrivals, departures, changes
 * and answers; lock the accounts concerned; apply the rules of account-rules.ts to drafts; write
 * the differences. Nothing outside the transaction changes here (registry, runtime, pending
 * requests and agents are only touched after commit), so a failed batch can simply run again.
 */
export function createBatchRunner(deps: BatchRunnerDeps): { run(tx: Db, events: readonly EngineEvent[], stopping: boolean): Promise<Committed> } {
  const { hubId, registry, pending, runtime, config } = deps;

  /**
   * The latest open stream of an agent wins: when a batch holds both the end of an agent's old
   * stream and the hello of its new one, there is no departure at all, which is how a replaced
   * stream passes its holdings on without a detour through ORPHANED.
   */
  function movements(events: readonly EngineEvent[], stopping: boolean): Movements {
    const moves: Movements = { joins: new Map(), turnedAway: [], superseded: [], leaves: new Map(), released: new Map() };
    for (const event of events) {
      if (event.type !== "join" || event.session.closed) continue;
      if (stopping) {
        moves.turnedAway.push(event.session);
        continue;
      }
      const earlier = moves.joins.get(event.session.agentId);
      if (earlier !== undefined) moves.superseded.push(earlier);
      moves.joins.set(event.session.agentId, event.session);
    }
    for (const event of events) {
      if (event.type === "leave" && registry.get(event.session.agentId) === event.session && !moves.joins.has(event.session.agentId)) {
        moves.leaves.set(event.session.agentId, { zone: event.session.zoneId, reason: event.session.closeReason === "" ? "disconnected" : event.session.closeReason });
      } else if (event.type === "shutdown") {
        for (const session of registry.sessions()) moves.leaves.set(session.agentId, { zone: session.zoneId, reason: "disconnected: the hub shut down" });
      } else if (event.type === "release") {
        for (const agent of event.agents) {
          if (registry.get(agent.agentId) === undefined && !moves.joins.has(agent.agentId)) moves.released.set(agent.agentId, { zone: agent.zoneId, hubId: agent.hubId, reason: event.reason });
        }
      }
    }
    return moves;
  }

  /** An AccountResult as an answer to what the agent was asked, or undefined when nothing is expected. */
  function answerOf(agentId: string, result: AccountResult): AccountAnswer | undefined {
    if (result.requestId === "") {
      return { agentId, asked: "unsolicited", sentCaching: undefined, demotion: false, outcome: result.outcome, message: result.message };
    }
    const asked = pending.peek(agentId, result.requestId, result.accountName);
    if (asked === "superseded") {
      // A later message asked again (possibly sent after the stream read this answer): only its answer counts.
      pending.answered(result.requestId, result.accountName);
      return undefined;
    }
    if (asked === undefined) return undefined;
    return { agentId, asked: asked.kind, sentCaching: asked.caching, demotion: asked.demotion, outcome: result.outcome, message: result.message };
  }

  /** Reads every account the batch may touch, locked, with its holders. */
  async function load(store: EngineStore, view: AgentView, moves: Movements, events: readonly EngineEvent[]): Promise<Loaded> {
    const heldBy = await store.heldBy([...moves.joins.keys(), ...moves.leaves.keys(), ...moves.released.keys()]);
    const zoneBefore = new Map<string, string>();
    const takenFrom = new Map<string, string>();
    for (const [agentId, row] of await store.agentRows([...moves.joins.keys()])) {
      zoneBefore.set(agentId, registry.get(agentId)?.zoneId ?? row.zoneId);
      if (row.hubId !== hubId) takenFrom.set(agentId, row.hubId);
    }

    // Static accounts of the hellos; free names are created before the rows are locked.
    const statics = new Map<string, Registrant[]>();
    for (const session of moves.joins.values()) {
      for (const [name, definition] of staticAccountsOf(session.staticAccounts ?? [])) {
        statics.set(name, [...(statics.get(name) ?? []), { agentId: session.agentId, zone: session.zoneId, config: definition }]);
      }
    }
    await store.insertStatic([...statics].map(([name, registrants]) => ({ name, zoneId: registrants[0]?.zone || null, definition: registrants[registrants.length - 1]?.config ?? {} })));

    // What newcomers may take: orphans of their zones, and what their zones already serve.
    const zones = new Set([...moves.joins.values()].map((session) => session.zoneId));
    const zoneMembers: string[] = [];
    // The view before the batch's movements: this replica's agents and those of the other live replicas.
    for (const zone of zones) for (const agentId of view.agentsIn(zone)) if (!moves.joins.has(agentId) && !moves.leaves.has(agentId)) zoneMembers.push(agentId);
    const served = new Set(await store.servedBy(zoneMembers, config.maxHolders));
    const orphans = await store.orphansFor([...zones]);
    const recovering = events.some((event) => event.type === "recover") ? await store.unheld() : [];
    const regrow = events.find((event) => event.type === "regrow");
    const missing = regrow === undefined ? new Map<string, string[]>() : await store.missedByNewcomers(regrow.windowMs, deps.leaseTtlMs, config.maxHolders);

    const names = new Set<string>([...statics.keys(), ...served, ...orphans, ...recovering, ...missing.keys()]);
    for (const list of heldBy.values()) for (const name of list) names.add(name);
    const answers: Loaded["answers"] = [];
    for (const event of events) {
      if (event.type === "changes") for (const change of event.changes) names.add(change.name);
      else if (event.type === "retry") names.add(event.name);
      else if (event.type === "result") {
        const answer = answerOf(event.agentId, event.result);
        if (answer === undefined) continue;
        answers.push({ name: event.result.accountName, answer, requestId: event.result.requestId });
        names.add(event.result.accountName);
      }
    }

    const rows = await store.lockAccounts([...names].sort());
    // Read under the account locks: a takeover by another replica (an agent that reconnected
    // there) has committed by now if it touched these accounts, so its agent is not released
    // here while that replica tells it its roles again (two caching holders seen by agents).
    const movedAway = new Set<string>();
    const releasing = new Map<string, string>([...[...moves.leaves.keys()].map((agentId): [string, string] => [agentId, hubId]), ...[...moves.released].map(([agentId, release]): [string, string] => [agentId, release.hubId])]);
    for (const [agentId, row] of await store.agentRows([...releasing.keys()])) if (row.hubId !== releasing.get(agentId)) movedAway.add(agentId);
    view.setRemote(await store.remoteAgents(deps.leaseTtlMs));
    const holders = await store.holdersOf(rows.map((row) => row.name));
    const drafts = new Map<string, AccountDraft>();
    for (const row of rows) drafts.set(row.name, draftOf(row, holders.get(row.name) ?? new Map(), runtime.get(row.name)));
    return { heldBy, zoneBefore, takenFrom, movedAway, statics, served, orphans, recovering, missing, answers, drafts };
  }

  /**
   * Arrivals and departures: the view of connected agents first, then what departing agents
   * held, static registrations, what returning agents held, orphans the newcomers can take and
   * the accounts their zones serve. Returns the static accounts refused per agent.
   */
  function applyMovements(batch: Batch, moves: Movements, loaded: Loaded, arrivingIn: ReadonlyMap<string, readonly AgentSession[]>): Map<string, string[]> {
    const each = (names: Iterable<string> | undefined, fn: (draft: AccountDraft) => void) => {
      for (const name of names ?? []) {
        const draft = loaded.drafts.get(name);
        if (draft !== undefined) fn(draft);
      }
    };
    // An agent that comes back in another zone starts afresh; otherwise it keeps what it held.
    const movedZone = [...moves.joins.values()].filter((session) => (loaded.zoneBefore.get(session.agentId) ?? session.zoneId) !== session.zoneId);
    for (const agentId of moves.leaves.keys()) batch.view.leave(agentId);
    for (const session of moves.joins.values()) {
      let load = 0;
      each(loaded.heldBy.get(session.agentId), (draft) => (load += draft.holders.get(session.agentId) === true ? 1 : 0));
      batch.view.join(session, load, loaded.heldBy.get(session.agentId)?.length ?? 0);
    }
    for (const session of movedZone) {
      const before = loaded.zoneBefore.get(session.agentId) ?? "";
      each(loaded.heldBy.get(session.agentId), (draft) => holderGone(batch, draft, session.agentId, before, `reconnected in ${zoneLabel(session.zoneId)}`));
    }
    for (const [agentId, leave] of moves.leaves) if (!loaded.movedAway.has(agentId)) each(loaded.heldBy.get(agentId), (draft) => holderGone(batch, draft, agentId, leave.zone, leave.reason));
    for (const [agentId, release] of moves.released) if (!loaded.movedAway.has(agentId)) each(loaded.heldBy.get(agentId), (draft) => holderGone(batch, draft, agentId, release.zone, release.reason));

    const rejected = new Map<string, string[]>();
    for (const [name, registrants] of loaded.statics) {
      const draft = loaded.drafts.get(name);
      const refused = draft === undefined ? registrants : registerStatic(batch, draft, registrants);
      for (const registrant of refused) rejected.set(registrant.agentId, [...(rejected.get(registrant.agentId) ?? []), name]);
    }
    for (const session of moves.joins.values()) {
      const listed = staticAccountsOf(session.staticAccounts ?? []);
      each(loaded.heldBy.get(session.agentId), (draft) => {
        if (isStatic(draft) && !listed.has(draft.name)) staticDropped(batch, draft, session.agentId, session.zoneId);
        else if (!movedZone.includes(session)) resendTo(batch, draft, session.agentId);
      });
    }
    // Orphans and served accounts meet only the newcomers of their zones: a storm batch has ~130
    // hellos and ~1,500 accounts, and every pair cost a rule call.
    const arrivals = [...moves.joins.values()];
    each(loaded.orphans, (draft) => {
      if (draft.status !== State.ORPHANED || isStatic(draft)) return;
      const zone = draft.zoneId ?? "";
      const arriving = zone === "" ? arrivals : (arrivingIn.get(zone) ?? []);
      const first = arriving[0];
      if (first === undefined) return;
      const who = arriving.length === 1 ? agentLabel(first.agentId, first.zoneId) : `${arriving.length} agents of ${zone === "" ? "any zone" : zoneLabel(zone)}`;
      place(batch, draft, `${who} connected`, false);
    });
    // A served account grows by the newcomers of the zones it is served in (zoneGrew decides).
    each(loaded.served, (draft) => {
      const zones = new Set<string>();
      for (const agentId of draft.holders.keys()) {
        const zone = batch.view.zoneOf(agentId);
        if (zone !== undefined) zones.add(zone);
      }
      for (const zone of zones) for (const session of arrivingIn.get(zone) ?? []) zoneGrew(batch, draft, session.agentId);
    });
    return rejected;
  }

  /** API changes, retries and recovery in the order they came, then the agents' answers. */
  function applyEvents(batch: Batch, events: readonly EngineEvent[], loaded: Loaded): void {
    const draftNamed = (name: string) => loaded.drafts.get(name);
    for (const event of events) {
      if (event.type === "changes") {
        for (const change of event.changes) {
          const draft = draftNamed(change.name);
          if (draft === undefined) continue;
          if (change.kind === "activate") activate(batch, draft);
          else if (change.kind === "deactivate") deactivate(batch, draft, false, change.reason);
          else if (change.kind === "delete") deactivate(batch, draft, true, change.reason);
          else updated(batch, draft);
        }
      } else if (event.type === "retry") {
        const draft = draftNamed(event.name);
        if (draft !== undefined) retry(batch, draft);
      } else if (event.type === "regrow") {
        for (const [name, agentIds] of loaded.missing) {
          const draft = draftNamed(name);
          if (draft !== undefined) for (const agentId of agentIds) zoneGrew(batch, draft, agentId);
        }
      } else if (event.type === "recover") {
        for (const name of loaded.recovering) {
          const draft = draftNamed(name);
          if (draft !== undefined) recover(batch, draft, event.why);
        }
      }
    }
    for (const { name, answer } of loaded.answers) {
      const draft = draftNamed(name);
      if (draft !== undefined) answered(batch, draft, answer);
    }
  }

  /**
   * The accounts whose caching holder is in one of the zones that agents joined, by zone: what
   * `rebalance` may hand over. One pass over the batch's drafts, however many zones grew.
   */
  function handoffCandidates(batch: Batch, zones: ReadonlySet<string>): Map<string, RoleCandidate[]> {
    const byZone = new Map<string, RoleCandidate[]>();
    for (const draft of batch.drafts.values()) {
      const caching = cachingHolder(draft);
      if (!isServed(draft) || draft.rt.handoff !== undefined || caching === undefined) continue;
      const zone = batch.view.zoneOf(caching);
      if (zone === undefined || !zones.has(zone)) continue;
      const list = byZone.get(zone);
      const candidate = { account: draft.name, caching, holders: draft.holders };
      if (list === undefined) byZone.set(zone, [candidate]);
      else list.push(candidate);
    }
    return byZone;
  }

  /** Moves caching roles to agents that joined `zone`, one demotion at a time per account. */
  function rebalance(batch: Batch, zone: string, newcomers: string[], candidates: readonly RoleCandidate[]): void {
    const agents = batch.view.agentsIn(zone);
    if (agents.length < 2 || newcomers.length === 0 || candidates.length === 0) return;
    const plan = planHandoffs(
      agents.map((agentId) => ({ agentId, load: batch.view.load(agentId) })),
      newcomers,
      candidates,
    );
    for (const handoff of plan) {
      const draft = batch.drafts.get(handoff.account);
      if (draft === undefined) continue;
      // The role moves in two steps (demote, then promote on the answer) so that no account
      // ever has two caching holders; until the answer `from` stays caching in the database.
      tellDemotion(batch, handoff.from, draft);
      draft.rt.handoff = { from: handoff.from, to: handoff.to };
    }
  }

  /** Writes what the rules changed: accounts, holders, agents. */
  async function write(store: EngineStore, batch: Batch, moves: Movements): Promise<void> {
    const writes: AccountWrite[] = [];
    const deleted: string[] = [];
    const upserts: HolderRow[] = [];
    const removals: { account: string; agentId: string }[] = [];
    for (const draft of batch.drafts.values()) {
      if (draft.deleted) {
        deleted.push(draft.name);
        continue;
      }
      const stored = draft.stored;
      const staticChange = isStatic(draft) && (draft.definition !== stored.definition || draft.zoneId !== stored.zoneId);
      if (staticChange || draft.status !== stored.status || draft.message !== stored.lastAssignmentMsg || draft.failedCount !== stored.failedCount) {
        writes.push({
          name: draft.name,
          status: draft.status,
          message: draft.message,
          failedCount: draft.failedCount,
          ...(staticChange ? { definition: draft.definition, zoneId: draft.zoneId } : {}),
        });
      }
      for (const [agentId, caching] of draft.holders) if (draft.heldBefore.get(agentId) !== caching) upserts.push({ account: draft.name, agentId, caching });
      for (const agentId of draft.heldBefore.keys()) if (!draft.holders.has(agentId)) removals.push({ account: draft.name, agentId });
    }
    await store.upsertAgents([...moves.joins.values()].map((session) => ({ agentId: session.agentId, zoneId: session.zoneId, version: session.version, labels: session.labels })));
    await store.takeOver([...moves.joins.keys()]);
    await store.deleteHolders(removals);
    await store.upsertHolders(upserts);
    await store.writeAccounts(writes);
    await store.deleteAccounts(deleted);
    await store.deleteAgents([
      ...[...moves.leaves.keys()].map((agentId) => ({ agentId, hubId })),
      ...[...moves.released].map(([agentId, release]) => ({ agentId, hubId: release.hubId })),
    ]);
  }

  /**
   * What other replicas must do for this batch: send account messages to the agents whose streams
   * they hold, and end the streams of agents that reconnected here. Request ids are the
   * addressee's to choose, since the answers come back on its streams.
   */
  function lettersOf(batch: Batch, loaded: Loaded): Addressed[] {
    const letters: Addressed[] = [];
    for (const [agentId, from] of loaded.takenFrom) letters.push({ hubId: from, letter: { kind: "drop", agentId, byHub: hubId } });
    for (const [agentId, intents] of batch.intents) {
      const to = batch.view.remoteHub(agentId);
      if (to === undefined || intents.size === 0) continue;
      for (const out of messagesFor(agentId, intents, batch.drafts, () => "")) {
        letters.push({
          hubId: to,
          letter: {
            kind: "account",
            agentId,
            message: toJson(ConnectResponseSchema, out.message),
            pending: { kind: out.pending.kind, accounts: [...out.pending.accounts], demotions: [...(out.pending.demotions ?? [])] },
          },
        });
      }
    }
    return letters;
  }

  /**
   * Deletes the rows of the replicas that release events fence, while their lease is still
   * expired: the row lock makes a late renewal wait for this transaction and then find no row.
   * Agents of replicas that renewed meanwhile are left alone.
   */
  async function fence(store: EngineStore, events: readonly EngineEvent[]): Promise<readonly EngineEvent[]> {
    const hubs = new Set(events.flatMap((event) => (event.type === "release" ? (event.fence ?? []) : [])));
    if (hubs.size === 0) return events;
    const gone = new Set(await store.fenceHubs([...hubs], deps.leaseTtlMs));
    return events.map((event) => (event.type === "release" && event.fence !== undefined ? { ...event, agents: event.agents.filter((agent) => gone.has(agent.hubId)) } : event));
  }

  async function run(tx: Db, allEvents: readonly EngineEvent[], stopping: boolean): Promise<Committed> {
    const store = createEngineStore(tx, hubId);
    const events = await fence(store, allEvents);
    const view = createAgentView(registry, await store.remoteAgents(deps.leaseTtlMs), deps.localHeld);
    const moves = movements(events, stopping);
    const loaded = await load(store, view, moves, events);
    const batch: Batch = { view, config, drafts: loaded.drafts, intents: new Map() };
    // The rules run synchronously; between phases the event loop gets its turn (bounded slices).
    const slicer = createSlicer();
    const arrivingIn = new Map<string, AgentSession[]>();
    for (const session of moves.joins.values()) {
      const list = arrivingIn.get(session.zoneId);
      if (list === undefined) arrivingIn.set(session.zoneId, [session]);
      else list.push(session);
    }
    const rejected = applyMovements(batch, moves, loaded, arrivingIn);
    await slicer.pause();
    applyEvents(batch, events, loaded);
    await slicer.pause();
    const candidates = handoffCandidates(batch, new Set(arrivingIn.keys()));
    for (const [zone, sessions] of arrivingIn) {
      rebalance(
        batch,
        zone,
        sessions.map((session) => session.agentId),
        candidates.get(zone) ?? [],
      );
      await slicer.pause();
    }
    // Every served account with holders has exactly one caching holder when the batch ends.
    for (const draft of batch.drafts.values()) promote(batch, draft);
    await slicer.pause();
    await write(store, batch, moves);
    await slicer.pause();
    await deps.post(tx, lettersOf(batch, loaded));
    return {
      view,
      batch: batch,
      joined: [...moves.joins.values()],
      turnedAway: moves.turnedAway,
      superseded: moves.superseded,
      rejected,
      departed: [...moves.leaves.keys(), ...moves.released.keys()],
      answered: loaded.answers.map((entry) => ({ requestId: entry.requestId, account: entry.name })),
    };
  }

  return { run };
}
