import { create } from "@bufbuild/protobuf";
import { Code, createHandlerContext } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { AccountResultSchema, AgentService, ConnectRequestSchema, HelloSchema, Outcome, type AccountResult, type ConnectRequest } from "../../gen/agenthub/v1/agent_pb.js";
import { defaultConfig } from "../../src/config/config.js";
import { createAccountEngine, type AccountEngine } from "../../src/hub/account-engine.js";
import { createAgentRegistry } from "../../src/hub/agent-registry.js";
import { createAgentSession, type AgentSession } from "../../src/hub/agent-session.js";
import { createAgentStreamHandler } from "../../src/hub/agent-stream.js";
import { systemClock } from "../../src/hub/clock.js";
import { createHolderIndex } from "../../src/hub/holder-index.js";
import { noHubObserver } from "../../src/hub/hub-observer.js";
import type { OperationRouter } from "../../src/hub/operations.js";
import { createPendingRequests } from "../../src/hub/pending-requests.js";
import { createLogger } from "../../src/log/logger.js";
import type { Database } from "../../src/store/database.js";

const logger = createLogger("silent");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function session(agentId: string): AgentSession {
  return createAgentSession(create(HelloSchema, { agentId, zoneId: "q" }), Date.now(), () => {});
}

/**
 * An engine whose first transaction hangs until `release` (a database that stopped answering),
 * after which every transaction fails: the queue only grows until then.
 */
function stalledEngine(engineQueueEvents: number): { engine: AccountEngine; release(): void; transactions(): number } {
  let release = () => {};
  let released = false;
  let transactions = 0;
  const transaction = () => {
    transactions++;
    if (released) return Promise.reject(new Error("the database is away"));
    return new Promise<never>((_, reject) => {
      release = () => {
        released = true;
        reject(new Error("the database is away"));
      };
    });
  };
  // Only the transaction is reached before the queue's bound matters.
  const database = { db: { transaction } } as unknown as Database;
  const config = defaultConfig();
  config.limits.engineQueueEvents = engineQueueEvents;
  const engine = createAccountEngine({
    database,
    config,
    logger,
    hubId: "hub-q",
    clock: systemClock,
    registry: createAgentRegistry(),
    pending: createPendingRequests(),
    holders: createHolderIndex(),
    post: () => Promise.resolve(),
    observer: noHubObserver,
  });
  return { engine, release: () => release(), transactions: () => transactions };
}

/** Design section 15 ("every input is bounded"): the engine's queue of agents' events is bounded by limits.engineQueueEvents. */
describe("the assignment engine's queue", () => {
  it("turns new agents away with UNAVAILABLE once limits.engineQueueEvents events are queued, and keeps the ones queued", async () => {
    const { engine, release } = stalledEngine(4);
    const first = session("q-0");
    engine.join(first);
    // The first batch takes q-0 and hangs in its transaction; what comes next waits in the queue.
    await sleep(30);
    const queued = ["q-1", "q-2", "q-3"].map(session);
    for (const s of queued) engine.join(s);
    expect(engine.room()).toBeUndefined();
    // Internal events (a deadline's UNREACHABLE) are never refused: they count, and now the queue is full.
    engine.result("q-1", create(AccountResultSchema, { requestId: "r1", accountName: "a", outcome: Outcome.UNREACHABLE }));
    const room = engine.room();
    expect(room).toBeInstanceOf(Promise);

    const late = session("q-4");
    engine.join(late);
    expect(late.closed).toBe(true);
    expect(late.closeError?.code).toBe(Code.Unavailable);
    expect(late.closeError?.rawMessage).toContain("limits.engineQueueEvents");
    expect(queued.every((s) => !s.closed)).toBe(true);

    let hasRoom = false;
    void room?.then(() => (hasRoom = true));
    await sleep(20);
    expect(hasRoom).toBe(false);
    // The stalled batch gives up; the next one takes the queue, and agents' results flow again.
    release();
    await expect.poll(() => hasRoom, { timeout: 5_000 }).toBe(true);
    engine.close();
  });

  it("spends no transaction on the hello of a stream that ended while queued, nor on that stream's end", async () => {
    const { engine, release, transactions } = stalledEngine(100);
    engine.join(session("q-0"));
    await sleep(30);
    // A storm's redial: the agent gave up waiting for its welcome while its hello sat in the queue.
    const gone = session("gone-1");
    engine.join(gone);
    gone.close("disconnected");
    engine.leave(gone);
    release();
    await engine.idle();
    // Only the stalled batch's own attempts (3): the moot pair made no batch of its own.
    expect(transactions()).toBe(3);
    engine.close();
  });

  it("stops reading an agent's results while the queue is full, and hands them over once it has room", async () => {
    let wake = () => {};
    let full = true;
    const results: AccountResult[] = [];
    let joined: AgentSession | undefined;
    const engine = {
      join: (s: AgentSession) => (joined = s),
      leave: () => {},
      result: (_agentId: string, r: AccountResult) => results.push(r),
      room: () => (full ? new Promise<void>((resolve) => (wake = resolve)) : undefined),
    } as unknown as AccountEngine;
    const pending = createPendingRequests();
    pending.add("r1", { agentId: "reader-1", kind: "add", accounts: new Map([["a", true], ["b", false]]) });
    const connect = createAgentStreamHandler({
      engine,
      operations: { result: () => false } as unknown as OperationRouter,
      clock: systemClock,
      logger,
      pending,
      holders: createHolderIndex(),
      limits: defaultConfig().limits,
      floodPatienceMs: 60_000,
      onClosed: () => {},
    });
    const messages: ConnectRequest[] = [
      create(ConnectRequestSchema, { msg: { case: "hello", value: { agentId: "reader-1", zoneId: "q" } } }),
      create(ConnectRequestSchema, { msg: { case: "accountResult", value: { requestId: "r1", accountName: "a", outcome: Outcome.OK } } }),
      create(ConnectRequestSchema, { msg: { case: "accountResult", value: { requestId: "r1", accountName: "b", outcome: Outcome.OK } } }),
    ];
    let finish = () => {};
    const finished = new Promise<void>((resolve) => (finish = resolve));
    async function* requests(): AsyncGenerator<ConnectRequest> {
      yield* messages;
      await finished;
    }
    const ctx = createHandlerContext({ service: AgentService, method: AgentService.method.connect, protocolName: "grpc", requestMethod: "POST", url: "http://hub/agenthub.v1.AgentService/Connect" });
    const stream = connect(requests(), ctx);
    // Starts the handler: it reads hello, registers nothing (the fake engine) and waits for messages.
    const firstOut = stream.next();
    await sleep(30);
    expect(results).toEqual([]);
    // Its silence meanwhile is the hub's: the heartbeat monitor does not judge it.
    expect(joined?.readingPaused).toBe(true);
    full = false;
    wake();
    await expect.poll(() => results.map((r) => r.accountName)).toEqual(["a", "b"]);
    expect(joined?.readingPaused).toBe(false);
    finish();
    ctx.abort();
    await firstOut;
  });
});
