import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import { ConnectResponseSchema, Outcome, type OperationResult } from "../../gen/agenthub/v1/agent_pb.js";
import type { ExecuteRequest, ExecuteResponse, OperationService } from "../../gen/agenthub/v1/operations_pb.js";
import { ExecuteResponseSchema } from "../../gen/agenthub/v1/operations_pb.js";
import type { Logger } from "../log/logger.js";
import type { Database } from "../store/database.js";
import { State } from "./account-draft.js";
import type { AgentRegistry } from "./agent-registry.js";
import type { AgentSession } from "./agent-session.js";
import type { Clock } from "./clock.js";
import { formatDuration } from "./operator-messages.js";

export interface OperationRouterDeps {
  database: Database;
  registry: AgentRegistry;
  clock: Clock;
  logger: Logger;
  timeoutMs: number;
}

/** OperationService.Execute and the bookkeeping of operations in flight. */
export interface OperationRouter {
  service: ServiceImpl<typeof OperationService>;
  /** An agent's OperationResult. */
  result(session: AgentSession, result: OperationResult): void;
  /** A stream ended: its operations in flight will not be answered. */
  sessionClosed(session: AgentSession): void;
  /** Fails every operation in flight (hub shutdown). */
  close(): void;
}

interface InFlight {
  session: AgentSession;
  settle(result: OperationResult | ConnectError): void;
}

const OUTCOMES: Record<Outcome, string> = {
  [Outcome.OK]: "OK",
  [Outcome.UNREACHABLE]: "UNREACHABLE",
  [Outcome.ERROR]: "ERROR",
  [Outcome.UNSPECIFIED]: "ERROR",
};

/**
 * Design section 7: one holder gets the Operation, operations-role holders in turn (round-robin
 * per account), the caching holder only when it is alone. NOT_FOUND for an unknown account,
 * UNAVAILABLE when no connected agent holds it, DEADLINE_EXCEEDED after `operationTimeout`.
 */
export function createOperationRouter(deps: OperationRouterDeps): OperationRouter {
  const { database, registry, clock, logger, timeoutMs } = deps;
  const inFlight = new Map<string, InFlight>();
  const turns = new Map<string, number>();

  async function pickHolder(account: string): Promise<AgentSession> {
    const rows = await database.rows<{ status: string; agent_id: string | null; caching: number | null }>(sql`
      SELECT a.status, s.agent_id, s.caching::int AS caching
      FROM kubesvc_accounts a LEFT JOIN kubesvc_assignments s ON s.account_name = a.name AND s.reachable
      WHERE a.name = ${account}`);
    const status = rows[0]?.status;
    if (status === undefined) throw new ConnectError(`account ${account} not found`, Code.NotFound);
    if (status !== State.ACTIVE && status !== State.ACTIVATING) {
      throw new ConnectError(`account ${account} is ${status}; no agent serves it`, Code.Unavailable);
    }
    const connected = rows
      .filter((r) => r.agent_id !== null && registry.get(r.agent_id)?.closed === false)
      .sort((a, b) => ((a.agent_id ?? "") < (b.agent_id ?? "") ? -1 : 1));
    const operators = connected.filter((r) => Number(r.caching) !== 1);
    let chosen = connected[0];
    if (operators.length > 0) {
      const turn = turns.get(account) ?? 0;
      turns.set(account, turn + 1);
      chosen = operators[turn % operators.length];
    }
    const session = chosen?.agent_id != null ? registry.get(chosen.agent_id) : undefined;
    if (session === undefined) throw new ConnectError(`no connected agent holds account ${account}`, Code.Unavailable);
    return session;
  }

  async function execute(req: ExecuteRequest, ctx: HandlerContext): Promise<ExecuteResponse> {
    if (req.account === "") throw new ConnectError("account is required", Code.InvalidArgument);
    const session = await pickHolder(req.account);
    const operationId = randomUUID();
    const message = create(ConnectResponseSchema, {
      requestId: operationId,
      msg: { case: "operation", value: { operationId, accountName: req.account, kind: req.kind, payload: req.payload } },
    });
    const answer = await new Promise<OperationResult | ConnectError>((resolve) => {
      const settle = (value: OperationResult | ConnectError) => {
        if (!inFlight.delete(operationId)) return;
        cancelTimer();
        ctx.signal.removeEventListener("abort", onAbort);
        resolve(value);
      };
      const onAbort = () => settle(new ConnectError("the caller went away", Code.Canceled));
      const cancelTimer = clock.after(timeoutMs, () =>
        settle(new ConnectError(`agent ${session.agentId} did not answer operation ${operationId} within ${formatDuration(timeoutMs)}`, Code.DeadlineExceeded)),
      );
      inFlight.set(operationId, { session, settle });
      ctx.signal.addEventListener("abort", onAbort, { once: true });
      if (!session.sendOperation(message)) {
        settle(new ConnectError(`agent ${session.agentId} is not keeping up with its messages; try again`, Code.ResourceExhausted));
      }
    });
    if (answer instanceof ConnectError) throw answer;
    logger.debug({ operationId, agentId: session.agentId, account: req.account, outcome: answer.outcome }, "operation answered");
    return create(ExecuteResponseSchema, {
      operationId,
      agentId: session.agentId,
      outcome: OUTCOMES[answer.outcome] ?? "ERROR",
      message: answer.message,
      result: answer.result,
    });
  }

  return {
    service: { execute },
    result(session, result) {
      const op = inFlight.get(result.operationId);
      // Only the agent that was asked may answer; anything else is a stray or late message.
      if (op === undefined || op.session.agentId !== session.agentId) return;
      op.settle(result);
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
