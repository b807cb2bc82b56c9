import { create } from "@bufbuild/protobuf";
import { createHandlerContext } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { HelloSchema, OperationResultSchema, Outcome, type ConnectResponse } from "../../gen/agenthub/v1/agent_pb.js";
import { ExecuteRequestSchema, OperationService } from "../../gen/agenthub/v1/operations_pb.js";
import { createAgentRegistry } from "../../src/hub/agent-registry.js";
import { createAgentSession, type AgentSession } from "../../src/hub/agent-session.js";
import { systemClock } from "../../src/hub/clock.js";
import { createHolderIndex } from "../../src/hub/holder-index.js";
import { createOperationRouter } from "../../src/hub/operations.js";
import { createLogger } from "../../src/log/logger.js";
import type { Database } from "../../src/store/database.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One replica's router over two local holders of `acct`; the database knows of no other replica. */
function setup() {
  const registry = createAgentRegistry();
  const holders = createHolderIndex();
  const sessions = new Map<string, AgentSession>();
  const connect = (agentId: string) => {
    const session = createAgentSession(create(HelloSchema, { agentId, zoneId: "z" }), Date.now(), () => router.sessionClosed(session));
    registry.put(session);
    sessions.set(agentId, session);
    return session;
  };
  // Only asked where an agent's stream is when it is not local: nowhere else.
  const database = { rows: () => Promise.resolve([]) } as unknown as Database;
  const router = createOperationRouter({ database, registry, holders, clock: systemClock, logger: createLogger("silent"), hubId: "hub-1", timeoutMs: 5_000, leaseTtlMs: 10_000, post: () => Promise.resolve() });
  holders.set("acct", { status: "ACTIVE", holders: new Map([["a", false], ["b", false]]) });
  const execute = () => {
    const ctx = createHandlerContext({ service: OperationService, method: OperationService.method.execute, protocolName: "connect", requestMethod: "POST", url: "http://hub/agenthub.v1.OperationService/Execute" });
    return router.service.execute!(create(ExecuteRequestSchema, { account: "acct", kind: "deploy" }), ctx);
  };
  const answer = (session: AgentSession, message: ConnectResponse | undefined) =>
    router.result(session, create(OperationResultSchema, { operationId: message?.requestId ?? "", outcome: Outcome.OK, message: `ran on ${session.agentId}` }));
  /** The engine's view after the agent left: the other holder alone. */
  const onlyHolder = (agentId: string) => holders.set("acct", { status: "ACTIVE", holders: new Map([[agentId, false]]) });
  return { connect, execute, answer, onlyHolder };
}

/** README.md "The agent protocol", delivery rule for operations: who gets an operation again after its stream ended. */
describe("an operation whose stream ends before the answer", () => {
  it("goes to another holder at once when it was still queued: the agent never received it", async () => {
    const { connect, execute, answer, onlyHolder } = setup();
    const a = connect("a");
    const b = connect("b");
    const reply = execute();
    await sleep(10);
    // Round-robin picked a; a never read it (its outbox still holds it) and its stream ends.
    a.close("disconnected");
    onlyHolder("b");
    const resent = await b.next();
    expect(resent?.msg.case).toBe("operation");
    expect(answer(b, resent)).toBe(true);
    expect(await reply).toMatchObject({ agentId: "b", outcome: "OK", message: "ran on b", operationId: resent?.requestId });
  });

  it("waits for the same agent when it was handed to the stream, and never sends it to another holder", async () => {
    const { connect, execute, answer, onlyHolder } = setup();
    const a = connect("a");
    const b = connect("b");
    const reply = execute();
    const sent = await a.next();
    a.close("disconnected");
    onlyHolder("b");
    await sleep(400);
    // b has nothing queued: its next() would wait forever, so look at it through a race.
    const other = await Promise.race([b.next(), sleep(50).then(() => "nothing")]);
    expect(other).toBe("nothing");
    const again = connect("a");
    const resent = await again.next();
    expect(resent?.requestId).toBe(sent?.requestId);
    // The old stream's answer would be a stray; the new stream's is the one.
    expect(answer(a, resent)).toBe(false);
    expect(answer(again, resent)).toBe(true);
    expect(await reply).toMatchObject({ agentId: "a", message: "ran on a", operationId: sent?.requestId });
  });
});
