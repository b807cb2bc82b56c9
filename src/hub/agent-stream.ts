import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import type { ConnectRequest, ConnectResponse, Hello } from "../../gen/agenthub/v1/agent_pb.js";
import type { Logger } from "../log/logger.js";
import { createAgentSession, type AgentSession } from "./agent-session.js";
import type { Clock } from "./clock.js";
import type { AccountEngine } from "./account-engine.js";
import type { OperationRouter } from "./operations.js";

export interface AgentStreamDeps {
  engine: AccountEngine;
  operations: OperationRouter;
  clock: Clock;
  logger: Logger;
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
  if (msg.value.agentId === "") throw new ConnectError("hello.agent_id must not be empty", Code.InvalidArgument);
  return msg.value;
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

  async function readRequests(iterator: AsyncIterator<ConnectRequest>, session: AgentSession): Promise<void> {
    for (;;) {
      const next = await iterator.next();
      if (next.done === true || session.closed) break;
      session.lastSeen = clock.now();
      const msg = next.value.msg;
      if (msg.case === "accountResult") engine.result(session.agentId, msg.value);
      else if (msg.case === "operationResult") operations.result(session, msg.value);
      else if (msg.case === "hello") {
        session.close("sent hello twice", new ConnectError("hello may only be the first message", Code.InvalidArgument));
        return;
      }
      // A heartbeat (or an empty message) only counts as a sign of life.
    }
    session.close("disconnected");
  }

  return async function* connect(requests: AsyncIterable<ConnectRequest>, ctx: HandlerContext): AsyncGenerator<ConnectResponse> {
    const iterator = requests[Symbol.asyncIterator]();
    const hello = helloOf(await iterator.next());
    // Before anything is registered: a refused agent leaves no trace in the hub.
    await deps.authorizeHello?.(hello, ctx);
    const session = createAgentSession(hello, clock.now(), deps.onClosed);
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
