import { randomUUID } from "node:crypto";
import { create, type JsonObject } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import { ConnectResponseSchema, OperationResultSchema, Outcome, type OperationResult } from "../../gen/agenthub/v1/agent_pb.js";
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

interface InFlight {
  agentId: string;
  /** The local stream the operation went to; undefined when another replica holds it. */
  session: AgentSession | undefined;
  settle(result: OperationResult | ConnectError): void;
}

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

  /** Waits for the answer of operation `operationId`, started by `start`, within the timeout. */
  function awaitAnswer(operationId: string, agentId: string, session: AgentSession | undefined, signal: AbortSignal | undefined, start: (fail: (err: ConnectError) => void) => void): Promise<OperationResult | ConnectError> {
    return new Promise((resolve) => {
      const settle = (value: OperationResult | ConnectError) => {
        if (!inFlight.delete(operationId)) return;
        cancelTimer();
        signal?.removeEventListener("abort", onAbort);
        resolve(value);
      };
      const onAbort = () => settle(new ConnectError("the caller went away", Code.Canceled));
      const cancelTimer = clock.after(timeoutMs, () =>
        settle(new ConnectError(`agent ${agentId} did not answer operation ${operationId} within ${formatDuration(timeoutMs)}`, Code.DeadlineExceeded)),
      );
      inFlight.set(operationId, { agentId, session, settle });
      signal?.addEventListener("abort", onAbort, { once: true });
      start(settle);
    });
  }

  function operationMessage(operationId: string, account: string, kind: string, payload: ExecuteRequest["payload"]) {
    return create(ConnectResponseSchema, { requestId: operationId, msg: { case: "operation", value: { operationId, accountName: account, kind, payload } } });
  }

  function sendLocal(session: AgentSession, message: ReturnType<typeof operationMessage>, fail: (err: ConnectError) => void): void {
    if (!session.sendOperation(message)) fail(new ConnectError(`agent ${session.agentId} is not keeping up with its messages; try again`, Code.ResourceExhausted));
  }

  async function execute(req: ExecuteRequest, ctx: HandlerContext): Promise<ExecuteResponse> {
    if (req.account === "") throw new ConnectError("account is required", Code.InvalidArgument);
    const target = await pickHolder(req.account);
    const operationId = randomUUID();
    const answer = await awaitAnswer(operationId, target.agentId, target.session, ctx.signal, (fail) => {
      if (target.session !== undefined) {
        sendLocal(target.session, operationMessage(operationId, req.account, req.kind, req.payload), fail);
        return;
      }
      const letter: HubLetter = {
        kind: "operation",
        agentId: target.agentId,
        operationId,
        account: req.account,
        opKind: req.kind,
        payload: (req.payload === undefined ? null : (req.payload as unknown as JsonObject)),
        replyTo: hubId,
      };
      deps.post([{ hubId: target.hubId, letter }]).catch((err: unknown) => {
        logger.warn({ err, operationId }, "could not forward an operation to another hub replica");
        fail(new ConnectError(`could not reach the hub replica ${target.hubId} holding agent ${target.agentId}`, Code.Unavailable));
      });
    });
    if (answer instanceof ConnectError) throw answer;
    logger.debug({ operationId, agentId: target.agentId, account: req.account, outcome: answer.outcome }, "operation answered");
    return create(ExecuteResponseSchema, {
      operationId,
      agentId: target.agentId,
      outcome: OUTCOMES[answer.outcome] ?? "ERROR",
      message: answer.message,
      result: answer.result,
    });
  }

  /** Runs another replica's operation on a local stream and writes the answer back to it. */
  function serveForwarded(letter: Extract<HubLetter, { kind: "operation" }>): void {
    const reply = (answer: OperationResult | ConnectError) => {
      const back: HubLetter =
        answer instanceof ConnectError
          ? { kind: "operation-failed", operationId: letter.operationId, code: answer.code, message: answer.rawMessage }
          : {
              kind: "operation-result",
              operationId: letter.operationId,
              agentId: letter.agentId,
              outcome: answer.outcome,
              message: answer.message,
              result: answer.result === undefined ? null : (answer.result as unknown as JsonObject),
            };
      deps.post([{ hubId: letter.replyTo, letter: back }]).catch((err: unknown) => logger.warn({ err, operationId: letter.operationId }, "could not answer another hub replica's operation"));
    };
    const session = registry.get(letter.agentId);
    if (session === undefined || session.closed) {
      reply(new ConnectError(`agent ${letter.agentId} is no longer connected to hub ${hubId}`, Code.Unavailable));
      return;
    }
    const payload = letter.payload === null ? undefined : letter.payload;
    void awaitAnswer(letter.operationId, letter.agentId, session, undefined, (fail) =>
      sendLocal(session, create(ConnectResponseSchema, { requestId: letter.operationId, msg: { case: "operation", value: { operationId: letter.operationId, accountName: letter.account, kind: letter.opKind, payload: payload as never } } }), fail),
    ).then(reply);
  }

  return {
    service: { execute },
    result(session, result) {
      const op = inFlight.get(result.operationId);
      // Only the agent that was asked may answer; anything else is a stray or late message.
      if (op === undefined || op.session !== session) return false;
      op.settle(result);
      return true;
    },
    deliver(letters) {
      for (const letter of letters) {
        if (letter.kind === "operation") serveForwarded(letter);
        else if (letter.kind === "operation-result") {
          const op = inFlight.get(letter.operationId);
          if (op === undefined || op.session !== undefined || op.agentId !== letter.agentId) continue;
          op.settle(create(OperationResultSchema, { operationId: letter.operationId, outcome: letter.outcome, message: letter.message, ...(letter.result === null ? {} : { result: letter.result as never }) }));
        } else if (letter.kind === "operation-failed") {
          const op = inFlight.get(letter.operationId);
          if (op !== undefined && op.session === undefined) op.settle(new ConnectError(letter.message, letter.code));
        }
      }
    },
    sessionClosed(session) {
      for (const op of [...inFlight.values()]) {
        if (op.session === session) op.settle(new ConnectError(`agent ${session.agentId} disconnected before answering (${session.closeReason})`, Code.Unavailable));
      }
    },
    close() {
      for (const op of [...inFlight.values()]) op.settle(new ConnectError("the hub is shutting down", Code.Unavailable));
    },
  };
}
