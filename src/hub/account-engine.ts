import { Code, ConnectError } from "@connectrpc/connect";
import { fromJson } from "@bufbuild/protobuf";
import { ConnectResponseSchema, type AccountResult } from "../../gen/agenthub/v1/agent_pb.js";
import type { HubConfig } from "../config/config.js";
import type { Logger } from "../log/logger.js";
import type { Database, Db } from "../store/database.js";
import { inTransaction } from "../store/transaction.js";
import type { AccountRuntime } from "./account-draft.js";
import { answerChangesNothing } from "./account-rules.js";
import type { AgentRegistry } from "./agent-registry.js";
import type { AgentSession } from "./agent-session.js";
import type { Clock } from "./clock.js";
import { halves, isDataRefusal, refusalText, sqlState } from "./batch-splitter.js";
import { createBatchRunner, type Committed, type EngineEvent, type ReleasedAgent } from "./engine-batch.js";
import type { HolderIndex } from "./holder-index.js";
import type { Addressed, HubLetter } from "./hub-mailbox.js";
import { chunks, createSlicer, MAX_BATCH_WEIGHT } from "./engine-slices.js";
import type { HubObserver } from "./hub-observer.js";
import { messagesFor, welcome } from "./outgoing.js";
import { createEngineStore } from "./engine-store.js";
import { withCurrentRoles } from "./letter-roles.js";
import type { PendingRequests } from "./pending-requests.js";
import type { AccountChange } from "./reconciler.js";

/** Events per batch at most; a reconnect storm is worked off in batches of this size. */
const MAX_BATCH_EVENTS = 5000;

/**
 * The rows an event makes a batch touch, roughly (see MAX_BATCH_WEIGHT); `held` counts the
 * accounts of each local agent. A departure releases every account its agent held: counted as
 * one, reconnect-storm batches of 2,000 events touched 18,000–22,000 accounts in 2–3 s
 * transactions (wide-10k, debug log).
 */
function weightOf(event: EngineEvent, held: ReadonlyMap<string, number>): number {
  switch (event.type) {
    case "changes":
      return event.changes.length;
    case "release":
      return event.agents.length;
    case "join":
      // A reconnect is told again everything its agent holds.
      return 1 + (event.session.staticAccounts?.length ?? 0) + (held.get(event.session.agentId) ?? 0);
    case "leave":
      return 1 + (held.get(event.session.agentId) ?? 0);
    default:
      return 1;
  }
}
/**
 * How long the first event of a batch waits for others. PGlite answers without yielding to I/O,
 * so without a window each batch would only hold what one I/O turn delivered.
 */
const BATCH_WINDOW_MS = 5;
/** Attempts of one batch's transaction before its events are given up (or, for departures, requeued). */
const BATCH_ATTEMPTS = 3;
/**
 * Attempts allowed when the database refuses a second caching holder. Batches lock the accounts
 * they touch, so this only happens when another replica's batch won a race the locks do not
 * cover; running the batch again reads the winner's rows and decides anew.
 */
const CONTENTION_ATTEMPTS = 20;

/**
 * Waits on the real clock, never the injected one: the batch window and the pauses between a
 * transaction's attempts pace the engine's own I/O, which runs in real time even when a test
 * drives the hub's schedule, so a batch must not wait for anyone to advance the clock.
 */
function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** PostgreSQL's unique_violation on the index that allows one caching holder per account. */
function isCachingConflict(err: unknown): boolean {
  for (let current: unknown = err, depth = 0; typeof current === "object" && current !== null && depth < 5; depth++) {
    const { code, message, cause } = current as { code?: unknown; message?: unknown; cause?: unknown };
    if (code === "23505" && String(message).includes("kubesvc_assignments_one_caching")) return true;
    current = cause;
  }
  return false;
}

interface Queued {
  event: EngineEvent;
  done?: { resolve(): void; reject(err: unknown): void };
}

export interface AccountEngineDeps {
  database: Database;
  config: HubConfig;
  logger: Logger;
  hubId: string;
  clock: Clock;
  registry: AgentRegistry;
  pending: PendingRequests;
  /** Where committed batches leave the holders of the accounts they handled, for operations. */
  holders: HolderIndex;
  /** Writes letters to other replicas inside a batch's transaction. */
  post(tx: Db, letters: readonly Addressed[]): Promise<void>;
  /** Told of every committed batch (metrics). */
  observer: HubObserver;
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
  /**
   * Undefined while the queue holds fewer than `limits.engineQueueEvents` events; else resolves
   * once it does. An agent's stream waits for it before handing over a result, so that a flood of
   * answers holds back the agents sending them (HTTP/2 flow control) instead of growing the queue.
   */
  room(): Promise<void> | undefined;
  /** Letters from other replicas about this replica's streams: account messages to send, stale streams to end. */
  deliver(letters: readonly HubLetter[]): Promise<void>;
  /** API changes; resolves once immediate transitions are written and messages sent. */
  accountsChanged(changes: AccountChange[]): Promise<void>;
  /**
   * Releases the holdings of agents whose hub replica died. With `fence`, the batch first deletes
   * those replicas' rows if their lease is still expired (so that a late renewal finds its row
   * gone) and releases only the agents of the replicas it deleted or that had no row.
   */
  release(agents: ReleasedAgent[], reason: string, fence?: string[]): Promise<void>;
  /** At start: finish what a previous process left half done (accounts without holders). */
  recover(why: string): Promise<void>;
  /** Gives agents that connected within `windowMs` the served accounts of their zone they missed (see the regrow event). */
  regrow(windowMs: number): Promise<void>;
  /** Hub shutdown: every agent leaves, the accounts they held are released. */
  shutdown(): Promise<void>;
  /** Resolves when the queue is empty. */
  idle(): Promise<void>;
  /** Stops timers; later events are ignored. */
  close(): void;
}

/** Creates the engine. */
export function createAccountEngine(deps: AccountEngineDeps): AccountEngine {
  const { database, config, logger, hubId, clock, registry, pending, holders } = deps;
  const ruleConfig = {
    maxHolders: config.assignment.maxHolders,
    maxRetries: config.dynamicAccounts.maxRetries,
    retryFrequencyMs: config.dynamicAccounts.retryFrequencyMs,
    cleanupAfterMs: config.staticAccounts.cleanupAfterMs,
  };
  const runtime = new Map<string, AccountRuntime>();
  // Accounts each local agent holds, in any role: what choosing holders balances.
  const localHeld = new Map<string, number>();
  const batches = createBatchRunner({ hubId, registry, pending, runtime, localHeld, config: ruleConfig, leaseTtlMs: config.hub.leaseTtlMs, post: deps.post });
  const retryTimers = new Map<string, () => void>();
  let queue: Queued[] = [];
  const maxQueued = config.limits.engineQueueEvents;
  let roomWaiters: (() => void)[] = [];
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

  /**
   * An arrival or departure that has nothing left to do by the time its batch is made: the hello
   * of a stream that already ended, or the end of a stream that was never registered (its hello
   * was moot, or a newer stream replaced it). In a reconnect storm agents that waited too long
   * for their welcome redial, and the queue fills with such pairs; the batch would skip them
   * anyway (engine-batch.ts movements), but they would still take its slots and its transaction.
   */
  function isMoot(event: EngineEvent): boolean {
    if (event.type === "join") return event.session.closed;
    if (event.type === "leave") return registry.get(event.session.agentId) !== event.session;
    return false;
  }

  /**
   * An answer the rules would do nothing with (account-rules.ts `answerChangesNothing`), judged
   * from this replica's holder index, is taken without a batch. The index may be behind another
   * replica's batch; if that batch made the account ACTIVATING, its messages to the holders
   * replace the one answered here, so the batch would not have counted this answer either
   * (pending-requests.ts).
   */
  function changesNothing(agentId: string, result: AccountResult): boolean {
    if (result.requestId === "") return false;
    const asked = pending.peek(agentId, result.requestId, result.accountName);
    const indexed = holders.get(result.accountName);
    if (asked === undefined || asked === "superseded" || indexed === undefined) return false;
    return answerChangesNothing({ asked: asked.kind, outcome: result.outcome, demotion: asked.demotion }, indexed.status, runtime.get(result.accountName)?.handoff !== undefined);
  }

  function wakeRoomWaiters(): void {
    const waiting = roomWaiters;
    roomWaiters = [];
    for (const wake of waiting) wake();
  }

  function submit(event: EngineEvent): Promise<void> {
    return new Promise((resolve, reject) => post(event, { resolve, reject }));
  }

  /**
   * The next batch, bounded by events and by the rows they touch so that each batch is a short
   * slice. Hellos go first: their agents wait for a welcome (and time out and redial when it is
   * late). The rest follow in the order they came, once no hello is left waiting: so a departure
   * never runs while its agent's new hello is still queued; the hello makes it moot (the reconnect
   * keeps what the agent held and is told it again). In a reconnect storm every departure is
   * queued before its agent's redial, and running them first released every holding only for the
   * hellos to place them again. Moot events are dropped on the way.
   */
  function takeBatch(): Queued[] {
    let weight = 0;
    const items: Queued[] = [];
    const out = new Set<Queued>();
    const fits = (item: Queued) => {
      const itemWeight = weightOf(item.event, localHeld);
      if (items.length > 0 && (items.length >= MAX_BATCH_EVENTS || weight + itemWeight > MAX_BATCH_WEIGHT)) return false;
      weight += itemWeight;
      return true;
    };
    const drop = (item: Queued) => {
      out.add(item);
      item.done?.resolve();
    };
    const take = (item: Queued) => {
      out.add(item);
      items.push(item);
    };
    let full = false;
    for (const item of queue) {
      if (item.event.type !== "join") continue;
      if (isMoot(item.event)) drop(item);
      else if (!full && fits(item)) take(item);
      else full = true;
    }
    for (const item of queue) {
      if (full) break;
      if (out.has(item) || item.event.type === "join") continue;
      if (isMoot(item.event)) drop(item);
      else if (fits(item)) take(item);
      else full = true;
    }
    queue = queue.filter((item) => !out.has(item));
    return items;
  }

  async function runLoop(): Promise<void> {
    try {
      // Let a burst of events gather, so that it becomes one batch.
      await pause(BATCH_WINDOW_MS);
      while (queue.length > 0) {
        const items = takeBatch();
        if (queue.length < maxQueued) wakeRoomWaiters();
        if (items.length > 0) await runBatch(items);
      }
    } finally {
      running = undefined;
    }
  }

  async function runBatch(items: Queued[]): Promise<void> {
    const started = performance.now();
    let conflicts = 0;
    for (let attempt = 1; ; attempt++) {
      try {
        const began = performance.now();
        const committed = await inTransaction(database, (tx) =>
          batches.run(
            tx,
            items.map((item) => item.event),
            shuttingDown,
          ),
        );
        const wrote = performance.now();
        await afterCommit(committed);
        deps.observer.batchCommitted((performance.now() - started) / 1000, committed.batch.drafts.values());
        logger.debug(
          { events: items.length, accounts: committed.batch.drafts.size, joined: committed.joined.length, txMs: Math.round(wrote - began), sendMs: Math.round(performance.now() - wrote) },
          "assignment batch",
        );
        for (const item of items) item.done?.resolve();
        return;
      } catch (err) {
        if (isCachingConflict(err) && ++conflicts < CONTENTION_ATTEMPTS && !closed) {
          logger.warn({ attempt: conflicts }, "another replica gave an account a caching holder first; running the batch again");
          attempt--;
          await pause(5 + Math.floor(Math.random() * 20));
          continue;
        }
        logger.error({ err, attempt, events: items.length }, "assignment batch failed");
        if (attempt < BATCH_ATTEMPTS && !closed) {
          await pause(100 * attempt);
          continue;
        }
        // Refused every time for what it carries (a race would have passed by now): split it.
        if (isDataRefusal(err) && !closed) {
          await splitRefused(items, err);
          return;
        }
        giveUp(items, err);
        return;
      }
    }
  }

  /** The database refused what the batch wrote: its halves run alone, down to the one event refused (batch-splitter.ts). */
  async function splitRefused(items: Queued[], err: unknown): Promise<void> {
    const [only] = items;
    if (items.length === 1 && only !== undefined) {
      refusedAlone(only, err);
      return;
    }
    logger.warn({ events: items.length, sqlState: sqlState(err) }, "the database refused an assignment batch; running its halves alone");
    for (const half of halves(items)) await runBatch(half);
  }

  /** The one event the database refuses: only its agent hears of it; an API change is left to the transient sweep. */
  function refusedAlone({ event, done }: Queued, err: unknown): void {
    const why = refusalText(err);
    logger.error({ event: event.type, sqlState: sqlState(err), why }, "the database refused one engine event; the rest of its batch went on");
    done?.resolve();
    if (event.type === "join") {
      event.session.close("could not be stored", new ConnectError(`the hub could not store agent ${event.session.agentId}: ${why}`, Code.InvalidArgument));
    } else if (event.type === "result") {
      registry.get(event.agentId)?.close("sent a result that could not be stored", new ConnectError(`the hub could not store a result of agent ${event.agentId}: ${why}`, Code.InvalidArgument));
    }
  }

  /**
   * A batch that cannot be written (the database is away): agents reconnect, departures and API
   * changes are tried again later (a 202 is a promise; the REST caller already has its answer).
   */
  function giveUp(items: Queued[], err: unknown): void {
    for (const { event, done } of items) {
      if (event.type === "changes" || event.type === "retry") {
        done?.resolve();
        if (!closed) clock.after(1_000, () => post(event));
        continue;
      }
      done?.reject(err);
      if (event.type === "join") {
        event.session.close("could not be registered", new ConnectError("the hub could not register the agent; reconnect", Code.Unavailable));
      } else if ((event.type === "leave" || event.type === "release" || event.type === "shutdown") && !closed) {
        clock.after(1_000, () => post(event));
      }
    }
  }

  async function afterCommit(committed: Committed): Promise<void> {
    const slicer = createSlicer();
    const replaced = committed.view.commit();
    for (const session of replaced) {
      pending.forgetAgent(session.agentId);
      session.close("replaced by a newer connection", new ConnectError(`agent ${session.agentId} connected again; this stream is replaced`, Code.Aborted));
    }
    for (const agentId of committed.departed) pending.forgetAgent(agentId);
    for (const answer of committed.answered) pending.answered(answer.requestId, answer.account);

    for (const draft of committed.batch.drafts.values()) {
      if (draft.deleted) holders.delete(draft.name);
      else holders.set(draft.name, { status: draft.status, holders: draft.holders });
      const progress = draft.rt;
      const keep = !draft.deleted && (progress.round !== undefined || progress.handoff !== undefined || progress.fallbackFor !== undefined);
      if (keep) runtime.set(draft.name, progress);
      else runtime.delete(draft.name);
      if (progress.round?.waiting !== true || !keep) cancelRetry(draft.name);
      if (draft.retryInMs !== undefined && keep) scheduleRetry(draft.name, draft.retryInMs);
    }

    for (const session of committed.superseded) session.close("replaced by a newer connection", new ConnectError(`agent ${session.agentId} connected again; this stream is replaced`, Code.Aborted));
    for (const session of committed.turnedAway) session.close("the hub is shutting down", new ConnectError("the hub is shutting down; reconnect", Code.Unavailable));
    const now = clock.now();
    for (const session of committed.joined) {
      session.staticAccounts = undefined;
      // Heartbeats are due from welcome on, not from hello: a slow batch must not count against the agent.
      session.lastSeen = now;
      if (registry.get(session.agentId) === session) session.send(welcome(hubId, config.heartbeat.intervalMs, committed.rejected.get(session.agentId) ?? []));
    }
    for (const [agentId, intents] of committed.batch.intents) {
      await slicer.pause();
      const session = registry.get(agentId);
      if (session === undefined || session.closed || intents.size === 0) continue;
      for (const out of messagesFor(agentId, intents, committed.batch.drafts, pending.nextId)) {
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

  /** Sends an account message another replica's batch decided for one of this replica's streams. */
  type AccountLetter = Extract<HubLetter, { kind: "account" }>;

  /**
   * The roles the rows hold now for the agents and accounts of these letters (agent → account →
   * caching), read in one statement; undefined when it cannot be read.
   */
  async function currentRoles(letters: readonly AccountLetter[]): Promise<Map<string, Map<string, boolean>> | undefined> {
    const assigning = letters.filter((letter) => letter.pending.kind !== "delete");
    if (assigning.length === 0) return new Map();
    try {
      const agentIds = [...new Set(assigning.map((letter) => letter.agentId))];
      const names = [...new Set(assigning.flatMap((letter) => letter.pending.accounts.map(([name]) => name)))];
      return await createEngineStore(database.db, hubId).rolesOf(agentIds, names);
    } catch (err) {
      logger.warn({ err }, "could not read the current roles for other replicas' account messages; sending them as written");
      return undefined;
    }
  }

  /** Sends another replica's account message to the local agent it is for, with the roles the rows hold now (letter-roles.ts). */
  function sendForward(letter: AccountLetter, roles: Map<string, Map<string, boolean>> | undefined): void {
    const session = registry.get(letter.agentId);
    if (session === undefined || session.closed) {
      // The stream ended (or never registered here): the agent's holdings must not outlive it.
      post({ type: "release", agents: [{ agentId: letter.agentId, zoneId: "", hubId }], reason: "disconnected" });
      return;
    }
    const message = fromJson(ConnectResponseSchema, letter.message);
    const asked = { agentId: letter.agentId, kind: letter.pending.kind, accounts: new Map(letter.pending.accounts), demotions: new Set(letter.pending.demotions) };
    // Unreadable roles: as written, the sender's view, which the next batch of either replica corrects.
    const current = roles === undefined ? { message, pending: asked } : withCurrentRoles(message, asked, roles.get(letter.agentId) ?? new Map());
    if (current === undefined) return;
    current.message.requestId = pending.nextId();
    if (session.send(current.message)) pending.add(current.message.requestId, current.pending);
  }

  return {
    async deliver(letters) {
      // A letter can overtake the commit of the join it depends on only by the time between
      // commit and registry update: waiting for the running batch closes that gap. And no batch
      // runs while letters are delivered: a batch that applied an agent's answer between the
      // read of the current roles and the send would leave the letter stale again.
      while (running !== undefined) await running;
      let finished = () => {};
      running = new Promise<void>((resolve) => (finished = resolve));
      try {
        const roles = await currentRoles(letters.filter((letter): letter is AccountLetter => letter.kind === "account"));
        for (const letter of letters) {
          if (letter.kind === "account") sendForward(letter, roles);
          else if (letter.kind === "drop") {
            registry
              .get(letter.agentId)
              ?.close(`reconnected to hub ${letter.byHub}`, new ConnectError(`agent ${letter.agentId} connected to hub ${letter.byHub}; this stream is replaced`, Code.Aborted));
          }
        }
      } finally {
        running = undefined;
        finished();
        if (queue.length > 0 && !closed) running = runLoop();
      }
    },
    join(session) {
      if (shuttingDown || closed) {
        session.close("the hub is shutting down", new ConnectError("the hub is shutting down; reconnect", Code.Unavailable));
        return;
      }
      // Everything else the queue holds must be kept (departures, API changes, answers); a new
      // agent can come back later. UNAVAILABLE: agents reconnect after it with backoff.
      if (queue.length >= maxQueued) {
        logger.warn({ agentId: session.agentId, queued: queue.length }, "assignment queue full: agent turned away");
        session.close("turned away: the hub is busy", new ConnectError(`the hub is busy (${queue.length} assignment events queued, limits.engineQueueEvents); reconnect later`, Code.Unavailable));
        return;
      }
      post({ type: "join", session });
    },
    leave: (session) => post({ type: "leave", session }),
    result(agentId, result) {
      if (changesNothing(agentId, result)) pending.answered(result.requestId, result.accountName);
      else post({ type: "result", agentId, result });
    },
    room: () => (queue.length < maxQueued || closed ? undefined : new Promise<void>((resolve) => roomWaiters.push(resolve))),
    // Big changes become several events, so that batches stay small slices.
    accountsChanged: async (changes) => {
      await Promise.all(chunks(changes).map((part) => submit({ type: "changes", changes: part })));
    },
    release: async (agents, reason, fence) => {
      await Promise.all(chunks(agents).map((part) => submit({ type: "release", agents: part, reason, ...(fence === undefined ? {} : { fence }) })));
    },
    recover: (why) => submit({ type: "recover", why }),
    regrow: (windowMs) => submit({ type: "regrow", windowMs }),
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
      wakeRoomWaiters();
    },
  };
}
