import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { Outcome, type AccountResult, type ConnectRequest, type ConnectResponse, type Hello } from "../../gen/agenthub/v1/agent_pb.js";
import type { Limits } from "../config/config.js";
import type { Logger } from "../log/logger.js";
import { cleanAgentText, withoutNul } from "./agent-text.js";
import { createAgentSession, type AgentSession } from "./agent-session.js";
import type { Clock } from "./clock.js";
import type { AccountEngine } from "./account-engine.js";
import { createFloodGuard, type Verdict } from "./flood-guard.js";
import { checkHello } from "./hello-limits.js";
import type { OperationRouter } from "./operations.js";
import type { HolderIndex } from "./holder-index.js";
import { formatDuration } from "./operator-messages.js";
import type { PendingRequests } from "./pending-requests.js";
import { wireBacklogKey } from "./wire-backlog.js";

export interface AgentStreamDeps {
  engine: AccountEngine;
  operations: OperationRouter;
  clock: Clock;
  logger: Logger;
  /** The account messages agents are expected to answer: answers to anything else are strays. */
  pending: PendingRequests;
  /** Holders of the accounts this replica's engine handled: an unsolicited report on an account the agent is known not to hold is a stray. */
  holders: HolderIndex;
  limits: Limits;
  /** An agent throttled this long without pause is disconnected (flood-guard.ts). */
  floodPatienceMs: number;
  /** Runs once when a session ends, whatever ended it. */
  onClosed(session: AgentSession): void;
  /** Checks hello against the stream's credential (design section 14); throws to refuse it. */
  authorizeHello?: (hello: Hello, ctx: HandlerContext) => Promise<void>;
}

/** The `hello` of a stream's first message; INVALID_ARGUMENT for anything else (design section 5). */
function helloOf(first: IteratorResult<ConnectRequest>): Hello {
  if (first.done === true) throw new ConnectError("the stream ended before hello", Code.InvalidArgument);
  const msg = first.value.msg;
  if (msg.case !== "hello") {
    throw new ConnectError(`the first message must be hello, not ${msg.case ?? "an empty message"}`, Code.InvalidArgument);
  }
  return msg.value;
}

/** The first message, or DEADLINE_EXCEEDED when none arrives within `ms` (design section 15). */
async function firstMessage(iterator: AsyncIterator<ConnectRequest>, ms: number, clock: Clock): Promise<IteratorResult<ConnectRequest>> {
  let cancel: (() => void) | undefined;
  const late = new Promise<never>((_, reject) => {
    cancel = clock.after(ms, () => reject(new ConnectError(`no hello within ${formatDuration(ms)} of the stream's start`, Code.DeadlineExceeded)));
  });
  try {
    return await Promise.race([iterator.next(), late]);
  } finally {
    cancel?.();
  }
}

/** An AccountResult as the hub keeps it: its message cleaned and cut (design section 15). */
function cleanResult(result: AccountResult): AccountResult {
  result.message = cleanAgentText(result.message);
  return result;
}

/**
 * AgentService.Connect: a plain `async *` generator (the cheapest handler shape, design section
 * 13) that yields from the session's bounded outbox, while a reader task takes the agent's
 * messages. The stream ends when the agent half-closes or goes away, when the hub closes the
 * session (replaced, missed heartbeats, too slow, shutdown), and the engine then releases what
 * the agent held.
 */
export function createAgentStreamHandler(deps: AgentStreamDeps) {
  const { engine, operations, clock, logger } = deps;

  /** Whether an AccountResult answers something this agent was asked, or is a loss it may report unasked. */
  function accountResultKind(agentId: string, result: AccountResult): "expected" | "superseded" | "ordinary" | "stray" {
    if (result.requestId === "") {
      // Unknown to this replica (another replica placed it): let the engine decide.
      const known = deps.holders.get(result.accountName);
      const notHeld = known !== undefined && !known.holders.has(agentId);
      return result.outcome === Outcome.UNREACHABLE && !notHeld ? "ordinary" : "stray";
    }
    const asked = deps.pending.peek(agentId, result.requestId, result.accountName);
    return asked === undefined ? "stray" : asked === "superseded" ? "superseded" : "expected";
  }

  /** Applies the flood guard's verdict; false when the session was closed for flooding. */
  async function admitted(session: AgentSession, judge: (now: number) => Verdict): Promise<boolean> {
    for (;;) {
      const verdict = judge(clock.now());
      if (verdict.kind === "take") return true;
      if (verdict.kind === "disconnect") {
        logger.warn({ agentId: session.agentId, reason: verdict.reason }, "agent disconnected for flooding");
        session.close(`disconnected: ${verdict.reason}`, new ConnectError(`agent ${session.agentId} ${verdict.reason}`, Code.ResourceExhausted));
        return false;
      }
      await new Promise<void>((resolve) => clock.after(verdict.ms, resolve));
      if (session.closed) return false;
    }
  }

  async function readRequests(iterator: AsyncIterator<ConnectRequest>, session: AgentSession): Promise<void> {
    const guard = createFloodGuard(clock.now(), deps.floodPatienceMs);
    for (;;) {
      const next = await iterator.next();
      if (next.done === true || session.closed) break;
      session.lastSeen = clock.now();
      const msg = next.value.msg;
      if (msg.case === "accountResult") {
        const room = engine.room();
        if (room !== undefined) {
          // Not read further until the engine catches up; the wait is the hub's, not the agent's silence.
          session.readingPaused = true;
          try {
            await room;
          } finally {
            session.readingPaused = false;
            session.readingResumedAt = clock.now();
          }
          if (session.closed) return;
          session.lastSeen = clock.now();
        }
        const kind = accountResultKind(session.agentId, msg.value);
        if (kind === "expected") engine.result(session.agentId, cleanResult(msg.value));
        // A correct agent's answer to a message a later one replaced: free, and it counts for nothing.
        else if (kind === "superseded") deps.pending.answered(msg.value.requestId, msg.value.accountName);
        else if (!(await admitted(session, kind === "stray" ? guard.stray : guard.ordinary))) return;
        else if (kind === "ordinary") engine.result(session.agentId, cleanResult(msg.value));
      } else if (msg.case === "operationResult") {
        const result = msg.value;
        result.message = cleanAgentText(result.message);
        if (result.result !== undefined) result.result = withoutNul(result.result);
        if (!operations.result(session, result) && !(await admitted(session, guard.stray))) return;
      } else if (msg.case === "hello") {
        session.close("sent hello twice", new ConnectError("hello may only be the first message", Code.InvalidArgument));
        return;
      } else if (!(await admitted(session, guard.ordinary))) {
        // A heartbeat (or an empty message) only counts as a sign of life.
        return;
      }
    }
    session.close("disconnected");
  }

  return async function* connect(requests: AsyncIterable<ConnectRequest>, ctx: HandlerContext): AsyncGenerator<ConnectResponse> {
    const iterator = requests[Symbol.asyncIterator]();
    const hello = helloOf(await firstMessage(iterator, deps.limits.helloTimeoutMs, clock));
    checkHello(hello, deps.limits.maxStaticAccounts);
    // Before anything is registered: a refused agent leaves no trace in the hub.
    await deps.authorizeHello?.(hello, ctx);
    const session = createAgentSession(hello, clock.now(), deps.onClosed, deps.limits.agentOutboxBytes, ctx.values.get(wireBacklogKey));
    const onAbort = () => session.close("disconnected");
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    // Not awaited: the request stream only ends after this handler has returned, so waiting for
    // the reader here would hold the response open. Its failures close the session.
    void readRequests(iterator, session).catch((err: unknown) => {
      logger.debug({ err, agentId: session.agentId }, "agent stream read failed");
      session.close("disconnected");
    });
    logger.info({ agentId: session.agentId, zoneId: session.zoneId, version: session.version }, "agent connected");
    engine.join(session);
    try {
      for (;;) {
        const message = await session.next();
        if (message === undefined) break;
        // An account message's answer is due from now, not from when it was queued (pending-requests.ts).
        if (message.requestId !== "") deps.pending.sent(message.requestId);
        yield message;
      }
    } finally {
      ctx.signal.removeEventListener("abort", onAbort);
      session.close("disconnected");
      logger.info({ agentId: session.agentId, reason: session.closeReason }, "agent stream ended");
    }
    if (session.closeError !== undefined) throw session.closeError;
  };
}
