import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ConnectResponseSchema, HelloSchema } from "../../gen/agenthub/v1/agent_pb.js";
import { createAgentSession, OUTBOX_CAPACITY, type AgentSession } from "../../src/hub/agent-session.js";
import { createOutbox } from "../../src/hub/outbox.js";

const message = (requestId: string) => create(ConnectResponseSchema, { requestId, msg: { case: "deleteAccounts", value: { accountNames: ["x"] } } });

describe("outbox", () => {
  it("hands messages to the reader in order, waits when empty and ends when closed", async () => {
    const outbox = createOutbox<number>(2);
    expect(outbox.offer(1)).toBe(true);
    expect(outbox.offer(2)).toBe(true);
    expect(outbox.offer(3)).toBe(false);
    expect(await outbox.take()).toBe(1);
    expect(await outbox.take()).toBe(2);
    const waiting = outbox.take();
    expect(outbox.offer(4)).toBe(true);
    expect(await waiting).toBe(4);
    const ending = outbox.take();
    outbox.close();
    expect(await ending).toBeUndefined();
    expect(outbox.offer(5)).toBe(false);
  });
});

describe("agent session", () => {
  const hello = create(HelloSchema, { agentId: "slow-1", zoneId: "a" });

  it("closes an agent that does not read its messages instead of buffering without bound", () => {
    const closed: AgentSession[] = [];
    const session = createAgentSession(hello, 0, (s) => closed.push(s));
    for (let i = 0; i < OUTBOX_CAPACITY; i++) expect(session.send(message(`r${i}`))).toBe(true);
    expect(session.send(message("one-too-many"))).toBe(false);
    expect(session.closed).toBe(true);
    expect(session.closeError?.code).toBe(Code.ResourceExhausted);
    expect(session.closeReason).toBe("did not read its messages fast enough");
    expect(closed).toEqual([session]);
  });

  it("keeps half of the outbox for account messages: operations are refused first", () => {
    const session = createAgentSession(hello, 0, () => {});
    for (let i = 0; i < OUTBOX_CAPACITY / 2; i++) expect(session.sendOperation(message(`op${i}`))).toBe(true);
    expect(session.sendOperation(message("op-more"))).toBe(false);
    expect(session.closed).toBe(false);
    expect(session.send(message("account"))).toBe(true);
  });

  it("bounds the outbox in bytes, counting what the stream wrote but could not send yet (limits.agentOutboxBytes)", () => {
    const big = create(ConnectResponseSchema, { requestId: "big", msg: { case: "deleteAccounts", value: { accountNames: ["x".repeat(1000)] } } });
    const session = createAgentSession(hello, 0, () => {}, 3_500);
    // Three ~1 KB messages fit, the fourth does not: far below the message count limit.
    for (let i = 0; i < 3; i++) expect(session.send(big)).toBe(true);
    expect(session.send(big)).toBe(false);
    expect(session.closeError?.code).toBe(Code.ResourceExhausted);

    let unsent = 0;
    const stalled = createAgentSession(hello, 0, () => {}, 3_000, () => unsent);
    expect(stalled.send(big)).toBe(true);
    unsent = 5_000;
    expect(stalled.send(big)).toBe(false);
    expect(stalled.closeReason).toBe("did not read its messages fast enough");
  });

  it("remembers which operations were still queued when it closed: the agent never received those", async () => {
    const op = (id: string) => create(ConnectResponseSchema, { requestId: id, msg: { case: "operation", value: { operationId: id, accountName: "x", kind: "get" } } });
    const session = createAgentSession(hello, 0, () => {});
    expect(session.sendOperation(op("handed-over"))).toBe(true);
    expect((await session.next())?.requestId).toBe("handed-over");
    expect(session.sendOperation(op("queued"))).toBe(true);
    expect(session.send(message("account"))).toBe(true);
    expect(session.unsentOperations.size).toBe(0);
    session.close("disconnected");
    expect([...session.unsentOperations]).toEqual(["queued"]);
  });

  it("runs its close hook once", () => {
    let calls = 0;
    const session = createAgentSession(hello, 0, () => calls++);
    session.close("disconnected");
    session.close("again");
    expect(calls).toBe(1);
    expect(session.closeReason).toBe("disconnected");
  });
});
