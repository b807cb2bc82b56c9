import type { MessageInitShape } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AgentService, Outcome, type ConnectRequestSchema, type ConnectResponse } from "../../gen/agenthub/v1/agent_pb.js";

type Request = MessageInitShape<typeof ConnectRequestSchema>;

/** An async iterable the test pushes into: the agent's side of the stream. */
function outbox() {
  const items: Request[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  return {
    push(item: Request) {
      items.push(item);
      wake?.();
    },
    end() {
      ended = true;
      wake?.();
    },
    async *[Symbol.asyncIterator](): AsyncGenerator<Request> {
      for (;;) {
        while (items.length > 0) yield items.shift()!;
        if (ended) return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    },
  };
}

/** A scale agent that answers OK to everything it is given, for the API's lifecycle tests. */
export interface FakeAgent {
  /** Every message the hub sent, in order. */
  received: ConnectResponse[];
  /** Ends the stream, as a pod that goes away. */
  close(): Promise<void>;
}

/** Connects an agent over gRPC (h2c) to the hub's one port. */
export function connectFakeAgent(url: string, agentId: string, zoneId: string): FakeAgent {
  const client = createClient(AgentService, createGrpcTransport({ baseUrl: url }));
  const requests = outbox();
  const received: ConnectResponse[] = [];
  const abort = new AbortController();
  requests.push({ msg: { case: "hello", value: { agentId, zoneId, version: "fake" } } });

  const answer = (requestId: string, names: string[]) => {
    for (const accountName of names) {
      requests.push({ msg: { case: "accountResult", value: { requestId, accountName, outcome: Outcome.OK, message: "" } } });
    }
  };
  const reading = (async () => {
    for await (const message of client.connect(requests, { signal: abort.signal })) {
      received.push(message);
      const { msg, requestId } = message;
      if (msg.case === "addAccounts" || msg.case === "saveAccounts") answer(requestId, msg.value.assignments.map((a) => a.account?.name ?? ""));
      if (msg.case === "deleteAccounts") answer(requestId, msg.value.accountNames);
    }
  })().catch(() => undefined);

  return {
    received,
    async close() {
      requests.end();
      abort.abort();
      await reading;
    },
  };
}
