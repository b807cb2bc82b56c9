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
import { planHandoffs } from "./placement.js";
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
    const m: Movements = { joins: new Map(), turnedAway: [], superseded: [], leaves: new Map(), released: new Map() };
    for (const e of events) {
      if (e.type !== "join" || e.session.closed) continue;
      if (stopping) {
        m.turnedAway.push(e.session);
        continue;
      }
      const earlier = m.joins.get(e.session.agentId);
      if (earlier !== undefined) m.superseded.push(earlier);
      m.joins.set(e.session.agentId, e.session);
    }
    for (const e of events) {
      if (e.type === "leave" && registry.get(e.session.agentId) === e.session && !m.joins.has(e.session.agentId)) {
        m.leaves.set(e.session.agentId, { zone: e.session.zoneId, reason: e.session.closeReason === "" ? "disconnected" : e.session.closeReason });
      } else if (e.type === "shutdown") {
        for (const s of registry.sessions()) m.leaves.set(s.agentId, { zone: s.zoneId, reason: "disconnected: the hub shut down" });
      } else if (e.type === "release") {
        for (const a of e.agents) {
          if (registry.get(a.agentId) === undefined && !m.joins.has(a.agentId)) m.released.set(a.agentId, { zone: a.zoneId, hubId: a.hubId, reason: e.reason });
        }
      }
    }
    return m;
  }

  /** An AccountResult as an answer to what the agent was asked, or undefined when nothing is expected. */
  function answerOf(agentId: string, result: AccountResult): AccountAnswer | undefined {
    if (result.requestId === "") {
      return { agentId, asked: "unsolicited", sentCaching: undefined, demotion: false, outcome: result.outcome, message: result.message };
    }
    const asked = pending.peek(agentId, result.requestId, result.accountName);
    if (asked === undefined) return undefined;
    return { agentId, asked: asked.kind, sentCaching: asked.caching, demotion: asked.demotion, outcome: result.outcome, message: result.message };
  }

  /** Reads every account the batch may touch, locked, with its holders. */
  async function load(store: EngineStore, view: AgentView, m: Movements, events: readonly EngineEvent[]): Promise<Loaded> {
    const heldBy = await store.heldBy([...m.joins.keys(), ...m.leaves.keys(), ...m.released.keys()]);
    const zoneBefore = new Map<string, string>();
    const takenFrom = new Map<string, string>();
    for (const [agentId, row] of await store.agentRows([...m.joins.keys()])) {
      zoneBefore.set(agentId, registry.get(agentId)?.zoneId ?? row.zoneId);
      if (row.hubId !== hubId) takenFrom.set(agentId, row.hubId);
    }

    // Static accounts of the hellos; free names are created before the rows are locked.
    const statics = new Map<string, Registrant[]>();
    for (const s of m.joins.values()) {
      for (const [name, definition] of staticAccountsOf(s.staticAccounts ?? [])) {
        statics.set(name, [...(statics.get(name) ?? []), { agentId: s.agentId, zone: s.zoneId, config: definition }]);
      }
    }
    await store.insertStatic([...statics].map(([name, rs]) => ({ name, zoneId: rs[0]?.zone || null, definition: rs[rs.length - 1]?.config ?? {} })));

    // What newcomers may take: orphans of their zones, and what their zones already serve.
    const zones = new Set([...m.joins.values()].map((s) => s.zoneId));
    const zoneMembers: string[] = [];
    // The view before the batch's movements: this replica's agents and those of the other live replicas.
    for (const zone of zones) for (const id of view.agentsIn(zone)) if (!m.joins.has(id) && !m.leaves.has(id)) zoneMembers.push(id);
    const served = new Set(await store.servedBy(zoneMembers, config.maxHolders));
    const orphans = await store.orphansFor([...zones]);
    const recovering = events.some((e) => e.type === "recover") ? await store.unheld() : [];
    const regrow = events.find((e) => e.type === "regrow");
    const missing = regrow === undefined ? new Map<string, string[]>() : await store.missedByNewcomers(regrow.windowMs, deps.leaseTtlMs, config.maxHolders);

    const names = new Set<string>([...statics.keys(), ...served, ...orphans, ...recovering, ...missing.keys()]);
    for (const list of heldBy.values()) for (const name of list) names.add(name);
    const answers: Loaded["answers"] = [];
    for (const e of events) {
      if (e.type === "changes") for (const c of e.changes) names.add(c.name);
      else if (e.type === "retry") names.add(e.name);
      else if (e.type === "result") {
        const answer = answerOf(e.agentId, e.result);
        if (answer === undefined) continue;
        answers.push({ name: e.result.accountName, answer, requestId: e.result.requestId });
        names.add(e.result.accountName);
      }
    }

    const rows = await store.lockAccounts([...names].sort());
    // Read under the account locks: a takeover by another replica (an agent that reconnected
    // there) has committed by now if it touched these accounts, so its agent is not released
    // here while that replica tells it its roles again (two caching holders seen by agents).
    const movedAway = new Set<string>();
    const releasing = new Map<string, string>([...[...m.leaves.keys()].map((id): [string, string] => [id, hubId]), ...[...m.released].map(([id, r]): [string, string] => [id, r.hubId])]);
    for (const [agentId, row] of await store.agentRows([...releasing.keys()])) if (row.hubId !== releasing.get(agentId)) movedAway.add(agentId);
    view.setRemote(await store.remoteAgents(deps.leaseTtlMs));
    const holders = await store.holdersOf(rows.map((r) => r.name));
    const drafts = new Map<string, AccountDraft>();
    for (const row of rows) drafts.set(row.name, draftOf(row, holders.get(row.name) ?? new Map(), runtime.get(row.name)));
    return { heldBy, zoneBefore, takenFrom, movedAway, statics, served, orphans, recovering, missing, answers, drafts };
  }

  /**
   * Arrivals and departures: the view of connected agents first, then what departing agents
   * held, static registrations, what returning agents held, orphans the newcomers can take and
   * the accounts their zones serve. Returns the static accounts refused per agent.
   */
  function applyMovements(b: Batch, m: Movements, l: Loaded): Map<string, string[]> {
    const each = (names: Iterable<string> | undefined, fn: (d: AccountDraft) => void) => {
      for (const name of names ?? []) {
        const d = l.drafts.get(name);
        if (d !== undefined) fn(d);
      }
    };
    // An agent that comes back in another zone starts afresh; otherwise it keeps what it held.
    const movedZone = [...m.joins.values()].filter((s) => (l.zoneBefore.get(s.agentId) ?? s.zoneId) !== s.zoneId);
    for (const id of m.leaves.keys()) b.view.leave(id);
    for (const s of m.joins.values()) {
      let load = 0;
      each(l.heldBy.get(s.agentId), (d) => (load += d.holders.get(s.agentId) === true ? 1 : 0));
      b.view.join(s, load, l.heldBy.get(s.agentId)?.length ?? 0);
    }
    for (const s of movedZone) {
      const before = l.zoneBefore.get(s.agentId) ?? "";
      each(l.heldBy.get(s.agentId), (d) => holderGone(b, d, s.agentId, before, `reconnected in ${zoneLabel(s.zoneId)}`));
    }
    for (const [id, leave] of m.leaves) if (!l.movedAway.has(id)) each(l.heldBy.get(id), (d) => holderGone(b, d, id, leave.zone, leave.reason));
    for (const [id, r] of m.released) if (!l.movedAway.has(id)) each(l.heldBy.get(id), (d) => holderGone(b, d, id, r.zone, r.reason));

    const rejected = new Map<string, string[]>();
    for (const [name, registrants] of l.statics) {
      const d = l.drafts.get(name);
      const refused = d === undefined ? registrants : registerStatic(b, d, registrants);
      for (const r of refused) rejected.set(r.agentId, [...(rejected.get(r.agentId) ?? []), name]);
    }
    for (const s of m.joins.values()) {
      const listed = staticAccountsOf(s.staticAccounts ?? []);
      each(l.heldBy.get(s.agentId), (d) => {
        if (isStatic(d) && !listed.has(d.name)) staticDropped(b, d, s.agentId, s.zoneId);
        else if (!movedZone.includes(s)) resendTo(b, d, s.agentId);
      });
    }
    each(l.orphans, (d) => {
      if (d.status !== State.ORPHANED || isStatic(d)) return;
      const zone = d.zoneId ?? "";
      const arriving = [...m.joins.values()].filter((s) => zone === "" || s.zoneId === zone);
      const first = arriving[0];
      if (first === undefined) return;
      const who = arriving.length === 1 ? agentLabel(first.agentId, first.zoneId) : `${arriving.length} agents of ${zone === "" ? "any zone" : zoneLabel(zone)}`;
      place(b, d, `${who} connected`, false);
    });
    for (const s of m.joins.values()) each(l.served, (d) => zoneGrew(b, d, s.agentId));
    return rejected;
  }

  /** API changes, retries and recovery in the order they came, then the agents' answers. */
  function applyEvents(b: Batch, events: readonly EngineEvent[], l: Loaded): void {
    const draft = (name: string) => l.drafts.get(name);
    for (const e of events) {
      if (e.type === "changes") {
        for (const c of e.changes) {
          const d = draft(c.name);
          if (d === undefined) continue;
          if (c.kind === "activate") activate(b, d);
          else if (c.kind === "deactivate") deactivate(b, d, false, c.reason);
          else if (c.kind === "delete") deactivate(b, d, true, c.reason);
          else updated(b, d);
        }
      } else if (e.type === "retry") {
        const d = draft(e.name);
        if (d !== undefined) retry(b, d);
      } else if (e.type === "regrow") {
        for (const [name, agentIds] of l.missing) {
          const d = draft(name);
          if (d !== undefined) for (const agentId of agentIds) zoneGrew(b, d, agentId);
        }
      } else if (e.type === "recover") {
        for (const name of l.recovering) {
          const d = draft(name);
          if (d !== undefined) recover(b, d, e.why);
        }
      }
    }
    for (const { name, answer } of l.answers) {
      const d = draft(name);
      if (d !== undefined) answered(b, d, answer);
    }
  }

  /** Moves caching roles to agents that joined `zone`, one demotion at a time per account. */
  function rebalance(b: Batch, zone: string, newcomers: string[]): void {
    const agents = b.view.agentsIn(zone);
    if (agents.length < 2 || newcomers.length === 0) return;
    const candidates = [];
    for (const d of b.drafts.values()) {
      const caching = cachingHolder(d);
      if (!isServed(d) || d.rt.handoff !== undefined || caching === undefined || b.view.zoneOf(caching) !== zone) continue;
      candidates.push({ account: d.name, caching, holders: d.holders });
    }
    const plan = planHandoffs(
      agents.map((agentId) => ({ agentId, load: b.view.load(agentId) })),
      newcomers,
      candidates,
    );
    for (const h of plan) {
      const d = b.drafts.get(h.account);
      if (d === undefined) continue;
      // The role moves in two steps (demote, then promote on the answer) so that no account
      // ever has two caching holders; until the answer `from` stays caching in the database.
      tellDemotion(b, h.from, d);
      d.rt.handoff = { from: h.from, to: h.to };
    }
  }

  /** Writes what the rules changed: accounts, holders, agents. */
  async function write(store: EngineStore, b: Batch, m: Movements): Promise<void> {
    const writes: AccountWrite[] = [];
    const deleted: string[] = [];
    const upserts: HolderRow[] = [];
    const removals: { account: string; agentId: string }[] = [];
    for (const d of b.drafts.values()) {
      if (d.deleted) {
        deleted.push(d.name);
        continue;
      }
      const s = d.stored;
      const staticChange = isStatic(d) && (d.definition !== s.definition || d.zoneId !== s.zoneId);
      if (staticChange || d.status !== s.status || d.message !== s.lastAssignmentMsg || d.failedCount !== s.failedCount) {
        writes.push({
          name: d.name,
          status: d.status,
          message: d.message,
          failedCount: d.failedCount,
          ...(staticChange ? { definition: d.definition, zoneId: d.zoneId } : {}),
        });
      }
      for (const [agentId, caching] of d.holders) if (d.heldBefore.get(agentId) !== caching) upserts.push({ account: d.name, agentId, caching });
      for (const agentId of d.heldBefore.keys()) if (!d.holders.has(agentId)) removals.push({ account: d.name, agentId });
    }
    await store.upsertAgents([...m.joins.values()].map((s) => ({ agentId: s.agentId, zoneId: s.zoneId, version: s.version, labels: s.labels })));
    await store.takeOver([...m.joins.keys()]);
    await store.deleteHolders(removals);
    await store.upsertHolders(upserts);
    await store.writeAccounts(writes);
    await store.deleteAccounts(deleted);
    await store.deleteAgents([
      ...[...m.leaves.keys()].map((agentId) => ({ agentId, hubId })),
      ...[...m.released].map(([agentId, r]) => ({ agentId, hubId: r.hubId })),
    ]);
  }

  /**
   * What other replicas must do for this batch: send account messages to the agents whose streams
   * they hold, and end the streams of agents that reconnected here. Request ids are the
   * addressee's to choose, since the answers come back on its streams.
   */
  function lettersOf(b: Batch, l: Loaded): Addressed[] {
    const letters: Addressed[] = [];
    for (const [agentId, from] of l.takenFrom) letters.push({ hubId: from, letter: { kind: "drop", agentId, byHub: hubId } });
    for (const [agentId, intents] of b.intents) {
      const to = b.view.remoteHub(agentId);
      if (to === undefined || intents.size === 0) continue;
      for (const out of messagesFor(agentId, intents, b.drafts, () => "")) {
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
    const hubs = new Set(events.flatMap((e) => (e.type === "release" ? (e.fence ?? []) : [])));
    if (hubs.size === 0) return events;
    const gone = new Set(await store.fenceHubs([...hubs], deps.leaseTtlMs));
    return events.map((e) => (e.type === "release" && e.fence !== undefined ? { ...e, agents: e.agents.filter((a) => gone.has(a.hubId)) } : e));
  }

  async function run(tx: Db, allEvents: readonly EngineEvent[], stopping: boolean): Promise<Committed> {
    const store = createEngineStore(tx, hubId);
    const events = await fence(store, allEvents);
    const view = createAgentView(registry, await store.remoteAgents(deps.leaseTtlMs), deps.localHeld);
    const m = movements(events, stopping);
    const loaded = await load(store, view, m, events);
    const b: Batch = { view, config, drafts: loaded.drafts, intents: new Map() };
    // The rules run synchronously; between phases the event loop gets its turn (bounded slices).
    const slicer = createSlicer();
    const rejected = applyMovements(b, m, loaded);
    await slicer.pause();
    applyEvents(b, events, loaded);
    await slicer.pause();
    for (const zone of new Set([...m.joins.values()].map((s) => s.zoneId))) {
      rebalance(
        b,
        zone,
        [...m.joins.values()].filter((s) => s.zoneId === zone).map((s) => s.agentId),
      );
      await slicer.pause();
    }
    // Every served account with holders has exactly one caching holder when the batch ends.
    for (const d of b.drafts.values()) promote(b, d);
    await slicer.pause();
    await write(store, b, m);
    await slicer.pause();
    await deps.post(tx, lettersOf(b, loaded));
    return {
      view,
      batch: b,
      joined: [...m.joins.values()],
      turnedAway: m.turnedAway,
      superseded: m.superseded,
      rejected,
      departed: [...m.leaves.keys(), ...m.released.keys()],
      answered: loaded.answers.map((a) => ({ requestId: a.requestId, account: a.name })),
    };
  }

  return { run };
}
