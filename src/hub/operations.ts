import { randomUUID } from "node:crypto";
import { create, type JsonObject } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import { ConnectResponseSchema, OperationResultSchema, Outcome, type ConnectResponse, type OperationResult } from "../../gen/agenthub/v1/agent_pb.js";
import type { ExecuteRequest, ExecuteResponse, OperationService } from "../../gen/agenthub/v1/operations_pb.js";
import { ExecuteResponseSchema } from "../../gen/agenthub/v1/operations_pb.js";
import type { Logger } from "../log/logger.js";
import type { Database } from "../store/database.js";
import { AccountStatus as State } from "../model/account-states.js";
import type { AgentRegistry } from "./agent-registry.js";
import type { AgentSession } from "./agent-session.js";
import type { Clock } from "./clock.js";
import type { HolderIndex } from "./holder-index.js";
import type { Addressed, HubLetter } from "./hub-mailbox.js";
import { formatDuration } from "./operator-messages.js";

export interface OperationRouterDeps {
  database: Database;
  registry: AgentRegistry;
  /** Holders of the accounts this replica's engine handled: operations for local streams are routed from it. */
  holders: HolderIndex;
  clock: Clock;
  logger: Logger;
  hubId: string;
  timeoutMs: number;
  leaseTtlMs: number;
  /** Sends letters to other replicas (an operation for their agent, or the answer to one of theirs). */
  post(letters: readonly Addressed[]): Promise<void>;
}

/** OperationService.Execute and the bookkeeping of operations in flight. */
export interface OperationRouter {
  service: ServiceImpl<typeof OperationService>;
  /** An agent's OperationResult; false when no operation in flight expects it from this stream (a stray). */
  result(session: AgentSession, result: OperationResult): boolean;
  /** Letters about operations: one to run for another replica, or the answer to one this replica forwarded. */
  deliver(letters: readonly HubLetter[]): void;
  /** A stream ended: its operations in flight will not be answered. */
  sessionClosed(session: AgentSession): void;
  /** Fails every operation in flight (hub shutdown). */
  close(): void;
}

/** A forwarded operation whose stream ended before the agent answered: the replica that asked looks for the agent again. */
interface Lost {
  lost: true;
  /** Whether the agent may have received it (it was handed to the stream). */
  sent: boolean;
}

type Answer = OperationResult | ConnectError | Lost;

interface InFlight {
  operationId: string;
  /** The agent it went to (or goes to next). */
  agentId: string;
  account: string;
  /** The Operation message, kept to send it again after a reconnect. */
  message: ConnectResponse;
  /** The local stream it went to; undefined when another replica holds it, or while it waits for a stream. */
  session: AgentSession | undefined;
  /** The replica it was forwarded to. */
  hubId: string | undefined;
  /** Another replica asked for it: a lost stream is reported to that replica instead of looked for here. */
  forwarded: boolean;
  /** The agent may have received it: it goes to that agent again and to no other holder, since only that agent can tell it already ran it. */
  bound: boolean;
  /** Set while it waits for a stream: how the last one ended, for the deadline's message. */
  lost: string | undefined;
  settle(result: Answer): void;
  /** Cancels the next look for a stream. */
  stopLooking: (() => void) | undefined;
}

/** How often an operation whose stream ended looks for the agent's next stream. */
const RELOCATE_MS = 100;

/** The holder chosen for an operation: a local stream, or the replica that holds the agent's. */
type Target = { agentId: string; session: AgentSession; hubId?: undefined } | { agentId: string; session?: undefined; hubId: string };

const OUTCOMES: Record<Outcome, string> = {
  [Outcome.OK]: "OK",
  [Outcome.UNREACHABLE]: "UNREACHABLE",
  [Outcome.ERROR]: "ERROR",
  [Outcome.UNSPECIFIED]: "ERROR",
};

const SERVED: ReadonlySet<string> = new Set([State.ACTIVE, State.ACTIVATING]);

/**
 * Design section 7: one holder gets the Operation, operations-role holders in turn (round-robin
 * per account), the caching holder only when it is alone, on whichever replica holds the agent's
 * stream. NOT_FOUND for an unknown account, UNAVAILABLE when no connected agent holds it,
 * DEADLINE_EXCEEDED after `operationTimeout`. Accounts whose holders are all local streams are
 * routed from memory; the database is asked only when a holder may be on another replica.
 */
export function createOperationRouter(deps: OperationRouterDeps): OperationRouter {
  const { database, registry, holders, clock, logger, hubId, timeoutMs, leaseTtlMs } = deps;
  const inFlight = new Map<string, InFlight>();
  const turns = new Map<string, number>();

  /** Operations-role holders in turn, else the first (caching) one. */
  function choose<T extends { agentId: string; caching: boolean }>(account: string, candidates: T[]): T | undefined {
    const sorted = [...candidates].sort((a, b) => (a.agentId < b.agentId ? -1 : 1));
    const operators = sorted.filter((c) => !c.caching);
    if (operators.length === 0) return sorted[0];
    const turn = turns.get(account) ?? 0;
    turns.set(account, turn + 1);
    return operators[turn % operators.length];
  }

  /** From memory, when every holder the engine last wrote is a live local stream. */
  function localTarget(account: string): Target | undefined {
    const known = holders.get(account);
    if (known === undefined || !SERVED.has(known.status) || known.holders.size === 0) return undefined;
    const candidates: { agentId: string; caching: boolean; session: AgentSession }[] = [];
    for (const [agentId, caching] of known.holders) {
      const session = registry.get(agentId);
      if (session === undefined || session.closed) return undefined;
      candidates.push({ agentId, caching, session });
    }
    const chosen = choose(account, candidates);
    return chosen === undefined ? undefined : { agentId: chosen.agentId, session: chosen.session };
  }

  async function pickHolder(account: string): Promise<Target> {
    const local = localTarget(account);
    if (local !== undefined) return local;
    const rows = await database.rows<{ status: string; agent_id: string | null; caching: number | null; hub_id: string | null }>(sql`
      SELECT a.status, s.agent_id, s.caching::int AS caching, h.hub_id
      FROM kubesvc_accounts a
      LEFT JOIN kubesvc_assignments s ON s.account_name = a.name AND s.reachable
      LEFT JOIN kubesvc_agents g ON g.agent_id = s.agent_id
      LEFT JOIN kubesvc_hubs h ON h.hub_id = g.hub_id AND h.last_heartbeat >= now() - ${leaseTtlMs} * interval '1 millisecond'
      WHERE a.name = ${account}`);
    const status = rows[0]?.status;
    if (status === undefined) throw new ConnectError(`account ${account} not found`, Code.NotFound);
    if (!SERVED.has(status)) throw new ConnectError(`account ${account} is ${status}; no agent serves it`, Code.Unavailable);
    const candidates: (Target & { caching: boolean })[] = [];
    for (const r of rows) {
      if (r.agent_id === null) continue;
      const session = registry.get(r.agent_id);
      const caching = Number(r.caching) === 1;
      if (session !== undefined && !session.closed) candidates.push({ agentId: r.agent_id, session, caching });
      else if (r.hub_id !== null && r.hub_id !== hubId) candidates.push({ agentId: r.agent_id, hubId: r.hub_id, caching });
    }
    const chosen = choose(account, candidates);
    if (chosen === undefined) throw new ConnectError(`no connected agent holds account ${account}`, Code.Unavailable);
    return chosen;
  }

  // Lookups of an agent's replica, shared for RELOCATE_MS by every operation waiting for that
  // agent: a holder that dies with many operations in flight costs one query per period, not one per operation.
  const hubLookups = new Map<string, { at: number; hub: Promise<string | undefined> }>();

  /** Where the agent's stream is now, as the database knows it: a live replica other than this one. */
  function agentHub(agentId: string): Promise<string | undefined> {
    const now = clock.now();
    const recent = hubLookups.get(agentId);
    if (recent !== undefined && now - recent.at < RELOCATE_MS) return recent.hub;
    const hub = database
      .rows<{ hub_id: string }>(sql`
        SELECT g.hub_id FROM kubesvc_agents g
        JOIN kubesvc_hubs h ON h.hub_id = g.hub_id AND h.last_heartbeat >= now() - ${leaseTtlMs} * interval '1 millisecond'
        WHERE g.agent_id = ${agentId}`)
      .then((rows) => {
        const found = rows[0]?.hub_id;
        return found === undefined || found === hubId ? undefined : found;
      });
    hubLookups.set(agentId, { at: now, hub });
    // Dropped once stale, so the map holds only agents looked for in the last period.
    clock.after(RELOCATE_MS, () => {
      if (hubLookups.get(agentId)?.hub === hub) hubLookups.delete(agentId);
    });
    return hub;
  }

  /**
   * Where an operation whose stream ended goes next: the same agent's new stream, here or on
   * another replica; another holder only when the agent never received it.
   */
  async function relocate(op: InFlight): Promise<Target | undefined> {
    const session = registry.get(op.agentId);
    if (session !== undefined && !session.closed) return { agentId: op.agentId, session };
    const hub = await agentHub(op.agentId);
    if (hub !== undefined) return { agentId: op.agentId, hubId: hub };
    if (op.bound) return undefined;
    try {
      return await pickHolder(op.account);
    } catch (err) {
      // No holder yet (a standby takes over within a second): keep looking until the deadline.
      if (err instanceof ConnectError && (err.code === Code.Unavailable || err.code === Code.NotFound)) return undefined;
      throw err;
    }
  }

  /** Sends the operation to `target` and remembers where it went. */
  function dispatch(op: InFlight, target: Target): void {
    op.agentId = target.agentId;
    op.lost = undefined;
    const fail = (err: ConnectError) => op.settle(err);
    if (target.session !== undefined) {
      op.session = target.session;
      op.hubId = undefined;
      if (!target.session.sendOperation(op.message)) fail(new ConnectError(`agent ${target.agentId} is not keeping up with its messages; try again`, Code.ResourceExhausted));
      return;
    }
    op.session = undefined;
    op.hubId = target.hubId;
    const value = op.message.msg.case === "operation" ? op.message.msg.value : undefined;
    const letter: HubLetter = {
      kind: "operation",
      agentId: target.agentId,
      operationId: op.operationId,
      account: op.account,
      opKind: value?.kind ?? "",
      payload: value?.payload === undefined ? null : (value.payload as unknown as JsonObject),
      replyTo: hubId,
    };
    deps.post([{ hubId: target.hubId, letter }]).catch((err: unknown) => {
      logger.warn({ err, operationId: op.operationId }, "could not forward an operation to another hub replica");
      fail(new ConnectError(`could not reach the hub replica ${target.hubId} holding agent ${target.agentId}`, Code.Unavailable));
    });
  }

  /** The operation's stream ended unanswered: look for a new one every RELOCATE_MS until answered, given up or out of time. */
  function lookAgain(op: InFlight, why: string, sent: boolean): void {
    op.session = undefined;
    op.hubId = undefined;
    op.lost = why;
    op.bound ||= sent;
    op.stopLooking?.();
    const look = () => {
      op.stopLooking = undefined;
      relocate(op).then(
        (target) => {
          // Settled meanwhile, or already sent on by a letter: nothing to do.
          if (inFlight.get(op.operationId) !== op || op.lost === undefined || op.stopLooking !== undefined) return;
          if (target === undefined) op.stopLooking = clock.after(RELOCATE_MS, look);
          else {
            logger.info({ operationId: op.operationId, agentId: target.agentId, hubId: target.hubId }, "operation sent again after its agent's stream ended");
            dispatch(op, target);
          }
        },
        (err: unknown) => {
          logger.warn({ err, operationId: op.operationId }, "could not look for an operation's agent");
          if (inFlight.get(op.operationId) === op && op.stopLooking === undefined) op.stopLooking = clock.after(RELOCATE_MS, look);
        },
      );
    };
    // Not at once: a stream replaced by a newer one closes before the newer one is welcomed.
    op.stopLooking = clock.after(0, look);
  }

  /** Registers an operation in flight, calls `start` with it, and waits for its answer within the timeout. */
  function awaitAnswer(
    init: { operationId: string; agentId: string; account: string; message: ConnectResponse; forwarded: boolean },
    signal: AbortSignal | undefined,
    start: (op: InFlight) => void,
  ): Promise<{ answer: Answer; agentId: string }> {
    return new Promise((resolve) => {
      const settle = (value: Answer) => {
        if (inFlight.get(init.operationId) !== op) return;
        inFlight.delete(init.operationId);
        cancelTimer();
        op.stopLooking?.();
        signal?.removeEventListener("abort", onAbort);
        resolve({ answer: value, agentId: op.agentId });
      };
      const op: InFlight = { ...init, session: undefined, hubId: undefined, bound: false, lost: undefined, settle, stopLooking: undefined };
      const onAbort = () => settle(new ConnectError("the caller went away", Code.Canceled));
      const cancelTimer = clock.after(timeoutMs, () => {
        const id = init.operationId;
        const why =
          op.lost === undefined
            ? `agent ${op.agentId} did not answer operation ${id} within ${formatDuration(timeoutMs)}`
            : `agent ${op.agentId} ${op.lost} before answering operation ${id} and did not come back within ${formatDuration(timeoutMs)}`;
        settle(new ConnectError(why, Code.DeadlineExceeded));
      });
      inFlight.set(init.operationId, op);
      signal?.addEventListener("abort", onAbort, { once: true });
      start(op);
    });
  }

  function operationMessage(operationId: string, account: string, kind: string, payload: ExecuteRequest["payload"]) {
    return create(ConnectResponseSchema, { requestId: operationId, msg: { case: "operation", value: { operationId, accountName: account, kind, payload } } });
  }

  async function execute(req: ExecuteRequest, ctx: HandlerContext): Promise<ExecuteResponse> {
    if (req.account === "") throw new ConnectError("account is required", Code.InvalidArgument);
    const target = await pickHolder(req.account);
    const operationId = randomUUID();
    const message = operationMessage(operationId, req.account, req.kind, req.payload);
    const { answer, agentId } = await awaitAnswer({ operationId, agentId: target.agentId, account: req.account, message, forwarded: false }, ctx.signal, (op) => dispatch(op, target));
    if (answer instanceof ConnectError) throw answer;
    // A caller's operation is looked for again, never reported lost; this is a safeguard.
    if ("lost" in answer) throw new ConnectError(`operation ${operationId} lost its agent`, Code.Unavailable);
    logger.debug({ operationId, agentId, account: req.account, outcome: answer.outcome }, "operation answered");
    return create(ExecuteResponseSchema, {
      operationId,
      agentId,
      outcome: OUTCOMES[answer.outcome] ?? "ERROR",
      message: answer.message,
      result: answer.result,
    });
  }

  /** Runs another replica's operation on a local stream and writes the answer back to it. */
  function serveForwarded(letter: Extract<HubLetter, { kind: "operation" }>): void {
    const reply = (answer: Answer) => {
      let back: HubLetter;
      if (answer instanceof ConnectError) back = { kind: "operation-failed", operationId: letter.operationId, code: answer.code, message: answer.rawMessage };
      else if ("lost" in answer) back = { kind: "operation-lost", operationId: letter.operationId, agentId: letter.agentId, sent: answer.sent };
      else {
        back = {
          kind: "operation-result",
          operationId: letter.operationId,
          agentId: letter.agentId,
          outcome: answer.outcome,
          message: answer.message,
          result: answer.result === undefined ? null : (answer.result as unknown as JsonObject),
        };
      }
      deps.post([{ hubId: letter.replyTo, letter: back }]).catch((err: unknown) => logger.warn({ err, operationId: letter.operationId }, "could not answer another hub replica's operation"));
    };
    const session = registry.get(letter.agentId);
    if (session === undefined || session.closed) {
      // The agent moved on before the letter came: the asking replica looks for it again.
      reply({ lost: true, sent: false });
      return;
    }
    const payload = letter.payload === null ? undefined : letter.payload;
    const message = create(ConnectResponseSchema, {
      requestId: letter.operationId,
      msg: { case: "operation", value: { operationId: letter.operationId, accountName: letter.account, kind: letter.opKind, payload: payload as never } },
    });
    void awaitAnswer({ operationId: letter.operationId, agentId: letter.agentId, account: letter.account, message, forwarded: true }, undefined, (op) =>
      dispatch(op, { agentId: letter.agentId, session }),
    ).then(({ answer }) => reply(answer));
  }

  return {
    service: { execute },
    result(session, result) {
      const op = inFlight.get(result.operationId);
      // Only the stream the operation went to may answer; anything else is a stray or late message.
      if (op === undefined || op.session !== session) return false;
      op.settle(result);
      return true;
    },
    deliver(letters) {
      for (const letter of letters) {
        if (letter.kind === "operation") {
          serveForwarded(letter);
          continue;
        }
        if (letter.kind !== "operation-result" && letter.kind !== "operation-failed" && letter.kind !== "operation-lost") continue;
        const op = inFlight.get(letter.operationId);
        // Only while it is forwarded: a late letter about an operation sent on elsewhere is stale.
        if (op === undefined || op.hubId === undefined) continue;
        if (letter.kind === "operation-result") {
          if (op.agentId !== letter.agentId) continue;
          op.settle(create(OperationResultSchema, { operationId: letter.operationId, outcome: letter.outcome, message: letter.message, ...(letter.result === null ? {} : { result: letter.result as never }) }));
        } else if (letter.kind === "operation-failed") op.settle(new ConnectError(letter.message, letter.code));
        else lookAgain(op, `lost its stream on hub ${op.hubId}`, letter.sent);
      }
    },
    sessionClosed(session) {
      for (const op of [...inFlight.values()]) {
        if (op.session !== session) continue;
        const sent = !session.unsentOperations.has(op.operationId);
        if (op.forwarded) op.settle({ lost: true, sent });
        else lookAgain(op, session.closeReason, sent);
      }
    },
    close() {
      for (const op of [...inFlight.values()]) op.settle(op.forwarded ? { lost: true, sent: true } : new ConnectError("the hub is shutting down", Code.Unavailable));
    },
  };
}
