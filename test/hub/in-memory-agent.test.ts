import { create, fromJson, type MessageInitShape } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport, type Client, type Transport } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccountsService } from "../../gen/agenthub/v1/accounts_pb.js";
import { AgentService, ConnectRequestSchema, Outcome, type ConnectResponse } from "../../gen/agenthub/v1/agent_pb.js";
import { OperationService } from "../../gen/agenthub/v1/operations_pb.js";
import { Health, HealthCheckResponse_ServingStatus as Serving } from "../../gen/grpc/health/v1/health_pb.js";
import { createAccountsService } from "../../src/accounts/accounts-service.js";
import { loadConfig } from "../../src/config/config.js";
import { createHub, type Hub } from "../../src/hub/hub.js";
import { createLogger } from "../../src/log/logger.js";
import { createHealthService } from "../../src/server/health.js";
import { createReadiness } from "../../src/server/readiness.js";
import { hubRoutes, servedServices } from "../../src/server/routes.js";
import type { Database } from "../../src/store/database.js";
import { openTestDatabase } from "../support/databases.js";

/**
 * A real hub's routes (`hubRoutes`, as the server mounts them) behind `createRouterTransport`:
 * an agent stream, the accounts API, operations and health, in memory. The socket tests (test/hub,
 * test/server) keep covering HTTP/2, gRPC framing and flow control.
 */

type Request = MessageInitShape<typeof ConnectRequestSchema>;

/** The agent's side of the bidi stream: messages pushed here are sent in order until `end`. */
function requestStream(): AsyncIterable<Request> & { push(message: Request): void; end(): void } {
  const queued: Request[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  return {
    push(message) {
      queued.push(message);
      wake?.();
    },
    end() {
      ended = true;
      wake?.();
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        const next = queued.shift();
        if (next !== undefined) yield next;
        else if (ended) return;
        else await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
}

/** A scripted agent on the in-memory transport: it reads the hub's messages one at a time. */
function connectAgent(transport: Transport, agentId: string, zoneId: string) {
  const requests = requestStream();
  const responses = createClient(AgentService, transport).connect(requests)[Symbol.asyncIterator]();
  requests.push({ msg: { case: "hello", value: { agentId, zoneId, version: "in-memory" } } });
  return {
    requests,
    /** The hub's next message; fails when the stream ended instead. */
    async next(): Promise<ConnectResponse> {
      const { done, value } = await responses.next();
      if (done === true) throw new Error("the hub ended the stream");
      return value;
    },
    /** How the stream ended: undefined when it ended cleanly, else its error. */
    async ended(): Promise<unknown> {
      try {
        while ((await responses.next()).done !== true);
        return undefined;
      } catch (err) {
        return err;
      }
    },
  };
}

describe("hub routes in memory (router transport, PGlite)", () => {
  let database: Database;
  let hub: Hub;
  let transport: Transport;
  let accounts: Client<typeof AccountsService>;
  const shutdown = new AbortController();
  const statusOf = async (name: string) => (await accounts.getAccount({ accountId: name })).account?.status;

  beforeAll(async () => {
    database = await openTestDatabase("pglite");
    const config = loadConfig({ env: {}, overrides: { "log.level": "silent" } });
    const logger = createLogger("silent");
    hub = createHub({ database, config, logger, hubId: "mem-hub", shutdown: shutdown.signal });
    const readiness = createReadiness({ database, leaseHeld: () => hub.leaseHeld(), shutdown: shutdown.signal });
    const health = createHealthService(
      servedServices(false).map((s) => s.typeName),
      readiness,
      shutdown.signal,
    );
    const service = createAccountsService({ database, config, reconciler: hub, logger });
    transport = createRouterTransport(hubRoutes({ accounts: service, agent: hub.agentService, operations: hub.operationService, health, credentials: undefined }));
    accounts = createClient(AccountsService, transport);
    await hub.start();
  });
  afterAll(async () => {
    shutdown.abort();
    await hub.close();
    await database.close();
  });

  it("welcomes an agent, assigns it an account, runs an operation on it and orphans the account when the agent leaves", async () => {
    const health = createClient(Health, transport);
    expect((await health.check({ service: AgentService.typeName })).status).toBe(Serving.SERVING);

    const agent = connectAgent(transport, "mem-agent", "z1");
    const welcome = await agent.next();
    expect(welcome.msg).toMatchObject({ case: "welcome", value: { hubId: "mem-hub" } });

    await accounts.createAccounts({ accounts: fromJson(ValueSchema, { name: "mem-acc", kubeconfigFile: "/k", zoneId: "z1" }) });
    await accounts.setAccountStates({ changes: fromJson(ValueSchema, [{ name: "mem-acc", state: "ACTIVE" }]) });
    const add = await agent.next();
    if (add.msg.case !== "addAccounts") throw new Error(`expected addAccounts, got ${add.msg.case}`);
    expect(add.msg.value.assignments.map((a) => [a.account?.name, a.caching, a.zoneId])).toEqual([["mem-acc", true, "z1"]]);
    agent.requests.push({ msg: { case: "accountResult", value: { requestId: add.requestId, accountName: "mem-acc", outcome: Outcome.OK } } });
    await expect.poll(() => statusOf("mem-acc"), { timeout: 10_000 }).toBe("ACTIVE");

    const operations = createClient(OperationService, transport);
    const executed = operations.execute({ account: "mem-acc", kind: "lookup", payload: { q: "pods" } });
    const op = await agent.next();
    if (op.msg.case !== "operation") throw new Error(`expected an operation, got ${op.msg.case}`);
    expect(op.msg.value).toMatchObject({ accountName: "mem-acc", kind: "lookup", payload: { q: "pods" } });
    agent.requests.push({ msg: { case: "operationResult", value: { operationId: op.msg.value.operationId, outcome: Outcome.OK, result: { pods: 3 } } } });
    expect(await executed).toMatchObject({ agentId: "mem-agent", outcome: "OK", result: { pods: 3 } });

    agent.requests.end();
    expect(await agent.ended()).toBeUndefined();
    await expect.poll(() => statusOf("mem-acc"), { timeout: 10_000 }).toBe("ORPHANED");
  });

  it("fails calls with the codes of the contract", async () => {
    const operations = createClient(OperationService, transport);
    const unknown = await operations.execute({ account: "mem-nobody", kind: "lookup" }).catch((err: unknown) => err);
    expect(unknown).toBeInstanceOf(ConnectError);
    expect((unknown as ConnectError).code).toBe(Code.NotFound);

    const requests = requestStream();
    requests.push(create(ConnectRequestSchema, { msg: { case: "heartbeat", value: {} } }));
    const stream = createClient(AgentService, transport).connect(requests);
    const refused = await (async () => {
      try {
        for await (const message of stream) return message;
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    requests.end();
    expect(refused).toBeInstanceOf(ConnectError);
    expect((refused as ConnectError).code).toBe(Code.InvalidArgument);
    expect((refused as ConnectError).rawMessage).toBe("the first message must be hello, not heartbeat");
  });
});
