import { Code, ConnectError } from "@connectrpc/connect";
import type { AccountResult } from "../../gen/agenthub/v1/agent_pb.js";
import type { HubConfig } from "../config/config.js";
import type { Logger } from "../log/logger.js";
import type { Database, Db } from "../store/database.js";
import { cachingHolder, draftOf, isServed, isStatic, promote, setRole, State, type AccountDraft, type AccountRuntime, type Batch } from "./account-draft.js";
import { activate, answered, deactivate, holderGone, place, recover, resendTo, retry, updated, zoneGrew, type AccountAnswer } from "./account-rules.js";
import type { AgentRegistry } from "./agent-registry.js";
import type { AgentSession } from "./agent-session.js";
import { createAgentView, type AgentView } from "./agent-view.js";
import type { Clock } from "./clock.js";
import { createEngineStore, type AccountWrite, type HolderRow } from "./engine-store.js";
import { agentLabel, zoneLabel } from "./operator-messages.js";
import { messagesFor, welcome } from "./outgoing.js";
import type { PendingRequests } from "./pending-requests.js";
import { planHandoffs } from "./placement.js";
import type { AccountChange } from "./reconciler.js";
import { registerStatic, staticAccountsOf, staticDropped, type Registrant } from "./static-accounts.js";

/** Events per batch at most; a reconnect storm is worked off in batches of this size. */
const MAX_BATCH_EVENTS = 5000;
/**
 * How long the first event of a batch waits for others. PGlite answers without yielding to I/O,
 * so without a window each batch would only hold what one I/O turn delivered.
 */
const BATCH_WINDOW_MS = 5;
/** Attempts of one batch's transaction before its events are given up (or, for departures, requeued). */
const BATCH_ATTEMPTS = 3;

/** An agent of another, dead hub replica whose holdings are to be released. */
export interface ReleasedAgent {
  agentId: string;
  zoneId: string;
  hubId: string;
}

type EngineEvent =
  | { type: "join"; session: AgentSession }
  | { type: "leave"; session: AgentSession }
  | { type: "result"; agentId: string; result: AccountResult }
  | { type: "changes"; changes: AccountChange[] }
  | { type: "retry"; name: string }
  | { type: "release"; agents: ReleasedAgent[]; reason: string }
  | { type: "recover" }
  | { type: "shutdown" };

interface Queued {
  event: EngineEvent;
  done?: { resolve(): void; reject(err: unknown): void };
}

/** What a committed batch still has to do: update memory, send, schedule. */
interface Committed {
  view: AgentView;
  batch: Batch;
  joined: AgentSession[];
  /** Streams that said hello while the hub was shutting down. */
  turnedAway: AgentSession[];
  rejected: Map<string, string[]>;
  departed: string[];
  answered: { requestId: string; account: string }[];
}

export interface AccountEngineDeps {
  database: Database;
  config: HubConfig;
  logger: Logger;
  hubId: string;
  clock: Clock;
  registry: AgentRegistry;
  pending: PendingRequests;
}

/**
 * The assignment engine. Every event (agent joined or left, an agent's answer, an API change, a
 * retry timer) goes through one queue; the engine takes all that has gathered and handles it as
 * one batch in one transaction: lock the accounts concerned, apply the rules to drafts, write the
 * differences, then send what agents must be told. One writer per hub means no races between
 * rules, and a reconnect storm costs a few statements per batch instead of several per agent.
 */
export interface AccountEngine {
  /** A stream sent hello: register the agent, then welcome it and give it its accounts. */
  join(session: AgentSession): void;
  /** A stream ended: release what the agent held (ignored for streams a newer one replaced). */
  leave(session: AgentSession): void;
  /** An agent's AccountResult. */
  result(agentId: string, result: AccountResult): void;
  /** API changes; resolves once immediate transitions are written and messages sent. */
  accountsChanged(changes: AccountChange[]): Promise<void>;
  /** Releases the holdings of agents whose hub replica died. */
  release(agents: ReleasedAgent[], reason: string): Promise<void>;
  /** At start: finish what a previous process left half done (accounts without holders). */
  recover(): Promise<void>;
  /** Hub shutdown: every agent leaves, the accounts they held are released. */
  shutdown(): Promise<void>;
  /** Resolves when the queue is empty. */
  idle(): Promise<void>;
  /** Stops timers; later events are ignored. */
  close(): void;
}

/** Creates the engine. */
export function createAccountEngine(deps: AccountEngineDeps): AccountEngine {
  const { database, config, logger, hubId, clock, registry, pending } = deps;
  const ruleConfig = {
    maxRetries: config.dynamicAccounts.maxRetries,
    retryFrequencyMs: config.dynamicAccounts.retryFrequencyMs,
    cleanupAfterMs: config.staticAccounts.cleanupAfterMs,
  };
  const runtime = new Map<string, AccountRuntime>();
  const retryTimers = new Map<string, () => void>();
  let queue: Queued[] = [];
  let running: Promise<void> | undefined;
  let shuttingDown = false;
  let closed = false;

  function post(event: EngineEvent, done?: Queued["done"]): void {
    if (closed) {
      done?.resolve();
      return;
    }
    queue.push({ event, done });
    running ??= runLoop();
  }

  function submit(event: EngineEvent): Promise<void> {
    return new Promise((resolve, reject) => post(event, { resolve, reject }));
  }

  async function runLoop(): Promise<void> {
    try {
      // Let a burst of events gather, so that it becomes one batch.
      await new Promise<void>((resolve) => clock.after(BATCH_WINDOW_MS, resolve));
      while (queue.length > 0) {
        const items = queue.slice(0, MAX_BATCH_EVENTS);
        queue = queue.slice(items.length);
        await runBatch(items);
      }
    } finally {
      running = undefined;
    }
  }

  async function runBatch(items: Queued[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const committed = await database.db.transaction((tx) => computeBatch(tx as unknown as Db, items));
        afterCommit(committed);
        for (const item of items) item.done?.resolve();
        return;
      } catch (err) {
        logger.error({ err, attempt, events: items.length }, "assignment batch failed");
        if (attempt < BATCH_ATTEMPTS && !closed) {
          await new Promise<void>((resolve) => clock.after(100 * attempt, resolve));
          continue;
        }
        giveUp(items, err);
        return;
      }
    }
  }

  /** A batch that cannot be written: callers hear of it, agents reconnect, departures are tried again later. */
  function giveUp(items: Queued[], err: unknown): void {
    for (const { event, done } of items) {
      done?.reject(err);
      if (event.type === "join") {
        event.session.close("could not be registered", new ConnectError("the hub could not register the agent; reconnect", Code.Unavailable));
      } else if ((event.type === "leave" || event.type === "release" || event.type === "shutdown") && !closed) {
        clock.after(1_000, () => post(event));
      }
    }
  }

  async function computeBatch(tx: Db, items: Queued[]): Promise<Committed> {
    const store = createEngineStore(tx, hubId);
    const view = createAgentView(registry);
    const events = items.map((i) => i.event);
    const stopping = shuttingDown;

    // Who arrives and who goes. The latest open stream of an agent wins; the old stream's end is
    // then no departure at all, which is how a replaced stream passes its holdings on.
    const joins = new Map<string, AgentSession>();
    const turnedAway: AgentSession[] = [];
    for (const e of events) {
      if (e.type !== "join" || e.session.closed) continue;
      if (stopping) turnedAway.push(e.session);
      else joins.set(e.session.agentId, e.session);
    }
    const leaves = new Map<string, { zone: string; reason: string }>();
    for (const e of events) {
      if (e.type === "leave" && registry.get(e.session.agentId) === e.session && !joins.has(e.session.agentId)) {
        leaves.set(e.session.agentId, { zone: e.session.zoneId, reason: e.session.closeReason === "" ? "disconnected" : e.session.closeReason });
      }
    }
    if (events.some((e) => e.type === "shutdown")) {
      for (const s of registry.sessions()) leaves.set(s.agentId, { zone: s.zoneId, reason: "disconnected: the hub shut down" });
    }
    const released = new Map<string, { zone: string; hubId: string; reason: string }>();
    for (const e of events) {
      if (e.type !== "release") continue;
      for (const a of e.agents) if (registry.get(a.agentId) === undefined && !joins.has(a.agentId)) released.set(a.agentId, { zone: a.zoneId, hubId: a.hubId, reason: e.reason });
    }

    const heldBy = await store.heldBy([...joins.keys(), ...leaves.keys(), ...released.keys()]);
    const storedAgents = await store.agentRows([...joins.keys()]);

    // Static accounts of the hellos, by name; free names are created before the rows are locked.
    const statics = new Map<string, Registrant[]>();
    for (const s of joins.values()) {
      for (const [name, config] of staticAccountsOf(s.staticAccounts ?? [])) {
        const list = statics.get(name) ?? [];
        list.push({ agentId: s.agentId, zone: s.zoneId, config });
        statics.set(name, list);
      }
    }
    await store.insertStatic(
      [...statics].map(([name, rs]) => ({ name, zoneId: rs[0]?.zone || null, definition: rs[rs.length - 1]?.config ?? {} })),
    );

    // What the newcomers may take: orphans of their zones and what their zones already serve.
    const grownZones = new Set([...joins.values()].map((s) => s.zoneId));
    const zoneMembers: string[] = [];
    for (const zone of grownZones) for (const id of registry.membersOf(zone)) if (!joins.has(id) && !leaves.has(id)) zoneMembers.push(id);
    const served = new Set(await store.servedBy(zoneMembers));
    const orphans = await store.orphansFor([...grownZones]);
    const recovering = events.some((e) => e.type === "recover") ? await store.unheld() : [];

    const names = new Set<string>([...statics.keys(), ...served, ...orphans, ...recovering]);
    for (const list of heldBy.values()) for (const name of list) names.add(name);
    const answers: { name: string; answer: AccountAnswer; requestId: string }[] = [];
    for (const e of events) {
      if (e.type === "changes") for (const c of e.changes) names.add(c.name);
      else if (e.type === "retry") names.add(e.name);
      else if (e.type === "result") {
        const answer = answerOf(e.agentId, e.result);
        if (answer !== undefined) {
          answers.push({ name: e.result.accountName, answer, requestId: e.result.requestId });
          names.add(e.result.accountName);
        }
      }
    }

    const rows = await store.lockAccounts([...names].sort());
    const holders = await store.holdersOf(rows.map((r) => r.name));
    const drafts = new Map<string, AccountDraft>();
    for (const row of rows) drafts.set(row.name, draftOf(row, holders.get(row.name) ?? new Map(), runtime.get(row.name)));
    const b: Batch = { view, config: ruleConfig, drafts, intents: new Map() };
    const each = (list: Iterable<string> | undefined, fn: (d: AccountDraft) => void) => {
      for (const name of list ?? []) {
        const d = drafts.get(name);
        if (d !== undefined) fn(d);
      }
    };

    // The connected agents as of this batch. An agent that comes back in another zone starts
    // afresh; otherwise it keeps what it held (replaced stream, or a hub that died).
    const movedZone = new Map<string, string>();
    for (const s of joins.values()) {
      const before = registry.get(s.agentId)?.zoneId ?? storedAgents.get(s.agentId)?.zoneId;
      if (before !== undefined && before !== s.zoneId) movedZone.set(s.agentId, before);
    }
    for (const id of leaves.keys()) view.leave(id);
    for (const s of joins.values()) {
      let load = 0;
      each(heldBy.get(s.agentId), (d) => (load += d.holders.get(s.agentId) === true ? 1 : 0));
      view.join(s, load);
    }
    for (const [id, zone] of movedZone) each(heldBy.get(id), (d) => holderGone(b, d, id, zone, `reconnected in ${zoneLabel(view.zoneOf(id) ?? "")}`));
    for (const [id, l] of leaves) each(heldBy.get(id), (d) => holderGone(b, d, id, l.zone, l.reason));
    for (const [id, r] of released) each(heldBy.get(id), (d) => holderGone(b, d, id, r.zone, r.reason));

    const rejected = new Map<string, string[]>();
    for (const [name, registrants] of statics) {
      const d = drafts.get(name);
      const refused = d === undefined ? registrants : registerStatic(b, d, registrants);
      for (const r of refused) rejected.set(r.agentId, [...(rejected.get(r.agentId) ?? []), name]);
    }
    for (const s of joins.values()) {
      const listed = staticAccountsOf(s.staticAccounts ?? []);
      each(heldBy.get(s.agentId), (d) => {
        if (isStatic(d) && !listed.has(d.name)) staticDropped(b, d, s.agentId, s.zoneId);
        else if (!movedZone.has(s.agentId)) resendTo(b, d, s.agentId);
      });
    }
    each(orphans, (d) => {
      if (d.status !== State.ORPHANED || isStatic(d)) return;
      const zone = d.zoneId ?? "";
      const arriving = [...joins.values()].filter((s) => zone === "" || s.zoneId === zone);
      const first = arriving[0];
      if (first === undefined) return;
      const who = arriving.length === 1 ? agentLabel(first.agentId, first.zoneId) : `${arriving.length} agents of ${zone === "" ? "any zone" : zoneLabel(zone)}`;
      place(b, d, `${who} connected`, false);
    });
    for (const s of joins.values()) each(served, (d) => zoneGrew(b, d, s.agentId));

    for (const e of events) {
      if (e.type === "changes") {
        for (const c of e.changes) {
          const d = drafts.get(c.name);
          if (d === undefined) continue;
          if (c.kind === "activate") activate(b, d);
          else if (c.kind === "deactivate") deactivate(b, d, false);
          else if (c.kind === "delete") deactivate(b, d, true);
          else updated(b, d);
        }
      } else if (e.type === "retry") {
        each([e.name], (d) => retry(b, d));
      } else if (e.type === "recover") {
        each(recovering, (d) => recover(b, d, `hub ${hubId}`));
      }
    }
    for (const { name, answer } of answers) each([name], (d) => answered(b, d, answer));

    for (const zone of grownZones) {
      rebalance(
        b,
        zone,
        [...joins.values()].filter((s) => s.zoneId === zone).map((s) => s.agentId),
      );
    }
    // Every served account with holders has exactly one caching holder when the batch ends.
    for (const d of drafts.values()) promote(b, d);

    await write(store, b, joins, leaves, released);
    return {
      view,
      batch: b,
      joined: [...joins.values()],
      turnedAway,
      rejected,
      departed: [...leaves.keys(), ...released.keys()],
      answered: answers.map((a) => ({ requestId: a.requestId, account: a.name })),
    };
  }

  /** An AccountResult as an answer to what the agent was asked, or undefined when nothing is expected. */
  function answerOf(agentId: string, result: AccountResult): AccountAnswer | undefined {
    if (result.requestId === "") {
      return { agentId, asked: "unsolicited", sentCaching: undefined, outcome: result.outcome, message: result.message };
    }
    const asked = pending.peek(agentId, result.requestId, result.accountName);
    if (asked === undefined) return undefined;
    return { agentId, asked: asked.kind, sentCaching: asked.caching, outcome: result.outcome, message: result.message };
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
      setRole(b, d, h.from, false);
      d.rt.handoff = { from: h.from, to: h.to };
    }
  }

  async function write(
    store: ReturnType<typeof createEngineStore>,
    b: Batch,
    joins: Map<string, AgentSession>,
    leaves: Map<string, unknown>,
    released: Map<string, { hubId: string }>,
  ): Promise<void> {
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
    await store.upsertAgents([...joins.values()].map((s) => ({ agentId: s.agentId, zoneId: s.zoneId, version: s.version, labels: s.labels })));
    await store.takeOver([...joins.keys()]);
    await store.deleteHolders(removals);
    await store.upsertHolders(upserts);
    await store.writeAccounts(writes);
    await store.deleteAccounts(deleted);
    await store.deleteAgents([
      ...[...leaves.keys()].map((agentId) => ({ agentId, hubId })),
      ...[...released].map(([agentId, r]) => ({ agentId, hubId: r.hubId })),
    ]);
  }

  function afterCommit(c: Committed): void {
    const replaced = c.view.commit();
    for (const s of replaced) {
      pending.forgetAgent(s.agentId);
      s.close("replaced by a newer connection", new ConnectError(`agent ${s.agentId} connected again; this stream is replaced`, Code.Aborted));
    }
    for (const agentId of c.departed) pending.forgetAgent(agentId);
    for (const a of c.answered) pending.answered(a.requestId, a.account);

    for (const d of c.batch.drafts.values()) {
      const rt = d.rt;
      const keep = !d.deleted && (rt.round !== undefined || rt.handoff !== undefined || rt.fallbackFor !== undefined);
      if (keep) runtime.set(d.name, rt);
      else runtime.delete(d.name);
      if (rt.round?.waiting !== true || !keep) cancelRetry(d.name);
      if (d.retryInMs !== undefined && keep) scheduleRetry(d.name, d.retryInMs);
    }

    for (const s of c.turnedAway) s.close("the hub is shutting down", new ConnectError("the hub is shutting down; reconnect", Code.Unavailable));
    const now = clock.now();
    for (const s of c.joined) {
      s.staticAccounts = undefined;
      // Heartbeats are due from welcome on, not from hello: a slow batch must not count against the agent.
      s.lastSeen = now;
      if (registry.get(s.agentId) === s) s.send(welcome(hubId, config.heartbeat.intervalMs, c.rejected.get(s.agentId) ?? []));
    }
    for (const [agentId, intents] of c.batch.intents) {
      const session = registry.get(agentId);
      if (session === undefined || session.closed || intents.size === 0) continue;
      for (const out of messagesFor(agentId, intents, c.batch.drafts, pending.nextId)) {
        if (!session.send(out.message)) break;
        pending.add(out.message.requestId, out.pending);
      }
    }
  }

  function cancelRetry(name: string): void {
    retryTimers.get(name)?.();
    retryTimers.delete(name);
  }

  function scheduleRetry(name: string, ms: number): void {
    cancelRetry(name);
    retryTimers.set(
      name,
      clock.after(ms, () => {
        retryTimers.delete(name);
        post({ type: "retry", name });
      }),
    );
  }

  return {
    join(session) {
      if (shuttingDown || closed) {
        session.close("the hub is shutting down", new ConnectError("the hub is shutting down; reconnect", Code.Unavailable));
        return;
      }
      post({ type: "join", session });
    },
    leave: (session) => post({ type: "leave", session }),
    result: (agentId, result) => post({ type: "result", agentId, result }),
    accountsChanged: (changes) => (changes.length === 0 ? Promise.resolve() : submit({ type: "changes", changes })),
    release: (agents, reason) => (agents.length === 0 ? Promise.resolve() : submit({ type: "release", agents, reason })),
    recover: () => submit({ type: "recover" }),
    shutdown() {
      shuttingDown = true;
      return submit({ type: "shutdown" });
    },
    async idle() {
      while (running !== undefined) await running;
    },
    close() {
      closed = true;
      for (const cancel of retryTimers.values()) cancel();
      retryTimers.clear();
      for (const item of queue) item.done?.resolve();
      queue = [];
    },
  };
}
