import { toJson, type JsonValue, type Message } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AccountsService } from "../../gen/agenthub/v1/accounts_pb.js";
import { setHttpStatus } from "../../src/rest/http-status.js";
import { serve, type Served } from "./serve.js";

/**
 * Routing only: the real AccountsService descriptors (design section 8 routes) over a fake
 * implementation that records what each RPC received. Account semantics are tested elsewhere.
 */
const received: { rpc: string; request: JsonValue }[] = [];
let served: Served;

function recorder(rpc: keyof typeof AccountsService.method, answer: (ctx: HandlerContext) => object = () => ({})) {
  return (request: Message, ctx: HandlerContext) => {
    received.push({ rpc, request: toJson(AccountsService.method[rpc].input, request as never) });
    return answer(ctx);
  };
}

beforeAll(async () => {
  const impl = {
    listAccounts: recorder("listAccounts", () => ({ items: [], page: 1, limit: 100, total: 0 })),
    getAccount: recorder("getAccount", () => ({ account: { name: "acc" } })),
    migrateAccounts: recorder("migrateAccounts", (ctx) => (setHttpStatus(ctx, 202), { conflicts: [] })),
    setAccountStates: recorder("setAccountStates", (ctx) => (setHttpStatus(ctx, 202), {})),
    deleteAccounts: recorder("deleteAccounts", (ctx) => (setHttpStatus(ctx, 202), {})),
    createAccounts: recorder("createAccounts", (ctx) => (setHttpStatus(ctx, 202), { conflicts: [] })),
    putAccount: recorder("putAccount", (ctx) => (setHttpStatus(ctx, 202), { conflicts: [] })),
    getAgentAccount: recorder("getAgentAccount"),
    listAgents: recorder("listAgents", () => ({ agents: [] })),
  };
  served = await serve([{ service: AccountsService, impl }]);
});
afterAll(async () => {
  await served.close();
});
beforeEach(() => {
  received.length = 0;
});

function only(): { rpc: string; request: JsonValue } {
  expect(received).toHaveLength(1);
  return received[0]!;
}

describe("AccountsService REST routes (design section 8)", () => {
  it("DELETE /armory/accounts takes a bare array of names", async () => {
    const res = await served.http1({ method: "DELETE", path: "/armory/accounts", json: ["a", "b"] });
    expect(res.status).toBe(202);
    expect(res.text).toBe("");
    expect(only()).toEqual({ rpc: "deleteAccounts", request: { names: ["a", "b"] } });
  });

  it("GET /armory/accounts?page=2&limit=5 sets the optional page and limit", async () => {
    const res = await served.http1({ path: "/armory/accounts?page=2&limit=5" });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ items: [], page: 1, limit: 100, total: 0 });
    expect(only()).toEqual({ rpc: "listAccounts", request: { page: 2, limit: 5 } });
  });

  it("GET /armory/accounts leaves page and limit unset, and rejects limit=abc", async () => {
    await served.http1({ path: "/armory/accounts" });
    expect(only().request).toEqual({});
    const bad = await served.http1({ path: "/armory/accounts?limit=abc" });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ code: "invalid_argument", details: [{ field: "limit" }] });
  });

  it("GET /armory/accounts/{accountId} answers the account field", async () => {
    const res = await served.http1({ path: "/armory/accounts/my-acc" });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ name: "acc", type: "", agents: [] });
    expect(only()).toEqual({ rpc: "getAccount", request: { accountId: "my-acc" } });
  });

  it("POST /armory/accounts migrates: the array reaches the Value field, 202 []", async () => {
    const body = [{ name: "a", zoneId: "z" }];
    const res = await served.http1({ method: "POST", path: "/armory/accounts", json: body });
    expect(res.status).toBe(202);
    expect(res.json).toEqual([]);
    expect(only()).toEqual({ rpc: "migrateAccounts", request: { accounts: body } });
  });

  it.each([
    ["/armory/accounts"],
    ["/armory/accounts/dynamic"],
  ])("PATCH %s reaches SetAccountStates (additional binding)", async (path) => {
    const body = [{ name: "a", state: "ACTIVE" }];
    const res = await served.http1({ method: "PATCH", path, json: body });
    expect(res.status).toBe(202);
    expect(res.text).toBe("");
    expect(only()).toEqual({ rpc: "setAccountStates", request: { changes: body } });
  });

  it("POST /armory/accounts/dynamic takes one object or an array, unknown fields kept", async () => {
    const one = { name: "a", kubeconfigContents: "x", metrics: true, someFutureOption: { deep: [1] } };
    const res1 = await served.http1({ method: "POST", path: "/armory/accounts/dynamic", json: one });
    expect(res1.status).toBe(202);
    expect(res1.json).toEqual([]);
    const res2 = await served.http1({ method: "POST", path: "/armory/accounts/dynamic", json: [one, { name: "b" }] });
    expect(res2.status).toBe(202);
    expect(received).toEqual([
      { rpc: "createAccounts", request: { accounts: one } },
      { rpc: "createAccounts", request: { accounts: [one, { name: "b" }] } },
    ]);
  });

  it("PUT /armory/accounts/dynamic reaches PutAccount", async () => {
    const res = await served.http1({ method: "PUT", path: "/armory/accounts/dynamic", json: { name: "a" } });
    expect(res.status).toBe(202);
    expect(only()).toEqual({ rpc: "putAccount", request: { account: { name: "a" } } });
  });

  it("GET /agents/kubernetes/accounts/x%20y decodes the name and answers {} when unset", async () => {
    const res = await served.http1({ path: "/agents/kubernetes/accounts/x%20y" });
    expect(res.status).toBe(200);
    expect(res.text).toBe("{}");
    expect(only()).toEqual({ rpc: "getAgentAccount", request: { name: "x y" } });
  });

  it("GET /armory/agents answers the bare agents array", async () => {
    const res = await served.http1({ path: "/armory/agents" });
    expect(res.status).toBe(200);
    expect(res.json).toEqual([]);
    expect(only().rpc).toBe("listAgents");
  });

  it("answers 405 with Allow for DELETE /armory/accounts/dynamic", async () => {
    const res = await served.http1({ method: "DELETE", path: "/armory/accounts/dynamic" });
    expect(res.status).toBe(405);
    expect(res.headers["allow"]).toBe("GET, PATCH, POST, PUT");
    expect(received).toHaveLength(0);
  });

  it("answers 415 for a DELETE body without Content-Type", async () => {
    const res = await served.http1({ method: "DELETE", path: "/armory/accounts", body: new TextEncoder().encode('["a"]') });
    expect(res.status).toBe(415);
    expect(received).toHaveLength(0);
  });
});
