import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { TranscodingService } from "../gen/transcoding/v1/transcoding_pb.js";
import { createRestTranscoder } from "../../src/rest/transcoder.js";
import { createLogger } from "../../src/log/logger.js";
import { logSink, serve, type Client, type LogSink, type Served } from "./serve.js";
import { transcodingImpl, type Call } from "./transcoding-service.js";

const MAX_BODY = 2048;
const calls: Call[] = [];
let served: Served;
let log: LogSink;

beforeAll(async () => {
  log = logSink();
  served = await serve([{ service: TranscodingService, impl: transcodingImpl(calls) }], { maxBodyBytes: MAX_BODY, logger: log.logger });
});
afterAll(async () => {
  await served.close();
});
beforeEach(() => {
  calls.length = 0;
  log.lines.length = 0;
});

/** The one call the last request made. */
function lastCall(): Call {
  expect(calls).toHaveLength(1);
  return calls[0]!;
}

describe.each([
  ["HTTP/1.1 (fetch)", () => served.http1],
  ["h2c (node:http2)", () => served.h2c],
])("transcoder over %s", (_name, client: () => Client) => {
  const ask: Client = (a) => client()(a);

  describe("path templates", () => {
    it("binds a single variable and decodes percent-escapes", async () => {
      const res = await ask({ path: "/v1/items/a%20b%2Fc" });
      expect(res.status).toBe(200);
      expect(lastCall()).toEqual({ rpc: "getItem", request: { name: "a b/c" } });
      expect(res.headers["content-type"]).toBe("application/json");
      // Every field present, defaults included.
      expect(res.json).toEqual({ name: "a b/c", count: 1, tags: [], flag: false });
    });

    it("prefers a literal route over a variable one", async () => {
      const res = await ask({ path: "/v1/items/special" });
      expect(res.status).toBe(200);
      expect(lastCall().rpc).toBe("getSpecialItem");
    });

    it("passes request headers to the handler", async () => {
      const res = await ask({ path: "/v1/items/special", headers: { "x-tag": "from-header" } });
      expect(res.json).toMatchObject({ name: "special", tags: ["from-header"] });
    });

    it("does not let a single variable match across /", async () => {
      const res = await ask({ path: "/v1/items/a/b" });
      expect(res.status).toBe(404);
      expect(calls).toHaveLength(0);
    });

    it("binds ** to the rest of the path, keeping %2F encoded", async () => {
      const res = await ask({ path: "/v1/files/dir/sub%20dir/a%2Fb.txt" });
      expect(res.status).toBe(200);
      expect(lastCall().request).toEqual({ path: "dir/sub dir/a%2Fb.txt" });
    });

    it("binds nested field paths and {field=*}", async () => {
      const res = await ask({ path: "/v1/shelves/s%C3%A9/books/b1" });
      expect(res.status).toBe(200);
      expect(lastCall().request).toEqual({ shelf: { id: "sé" }, book: "b1" });
      expect(res.json).toMatchObject({ name: "b1", shelf: { id: "sé", theme: "" } });
    });

    it("answers 400 for a malformed percent-escape in a variable", async () => {
      const res = await ask({ path: "/v1/items/%zz" });
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ code: "invalid_argument" });
      expect(calls).toHaveLength(0);
    });

    it("serves a custom HTTP method and a :verb", async () => {
      const res = await ask({ method: "SEARCH", path: "/v1/items:search" });
      expect(res.status).toBe(200);
      expect(lastCall().rpc).toBe("searchItems");
      expect(res.json).toEqual({ items: [], total: 0 });
    });
  });

  describe("unknown paths and methods", () => {
    it("answers 404 JSON for an unknown path", async () => {
      const res = await ask({ path: "/nope" });
      expect(res.status).toBe(404);
      expect(res.headers["content-type"]).toBe("application/json");
      expect(res.json).toEqual({ code: "not_found", message: "no route for GET /nope", details: [] });
    });

    it("answers 404 for a trailing slash rather than binding an empty variable", async () => {
      const res = await ask({ path: "/v1/items/" });
      expect(res.status).toBe(404);
    });

    it("answers 405 with Allow for a known path and a wrong method", async () => {
      const res = await ask({ method: "PATCH", path: "/v1/items" });
      expect(res.status).toBe(405);
      expect(res.headers["allow"]).toBe("DELETE, GET, POST");
      expect(res.json).toMatchObject({ code: "unimplemented", details: [] });
    });

    it("answers 501 for a rule whose method the implementation lacks", async () => {
      const res = await ask({ path: "/v1/not-implemented" });
      expect(res.status).toBe(501);
      expect(res.json).toMatchObject({ code: "unimplemented" });
    });

    it("answers 501 for a streaming method", async () => {
      const res = await ask({ path: "/v1/watch" });
      expect(res.status).toBe(501);
      expect(res.json).toMatchObject({ code: "unimplemented" });
    });
  });

  describe("query parameters", () => {
    it("leaves optional fields unset when absent", async () => {
      const res = await ask({ path: "/v1/items" });
      expect(res.status).toBe(200);
      expect(lastCall().request).toEqual({});
      // An unset optional field stays out of the answer too: it has explicit presence.
      expect(res.json).toEqual({ items: [{ name: "a", count: 1, tags: [], flag: false }], total: 1 });
    });

    it("sets scalars, repeated scalars, enums, int64 and nested fields by JSON or proto name", async () => {
      const res = await ask({
        path: "/v1/items?page=2&page_size=0&tags=x&tags=y%20z&includeHidden=true&order=ORDER_DESC&minId=9007199254740993&ratio=0.5&shelf.id=s1&ids=1&ids=2",
      });
      expect(res.status).toBe(200);
      expect(lastCall().request).toEqual({
        page: 2,
        pageSize: 0,
        tags: ["x", "y z"],
        includeHidden: true,
        order: "ORDER_DESC",
        minId: "9007199254740993",
        ratio: 0.5,
        shelf: { id: "s1" },
        ids: [1, 2],
      });
      expect(res.json).toMatchObject({ page: 2 });
    });

    it("accepts an enum by number", async () => {
      expect((await ask({ path: "/v1/items?order=1" })).status).toBe(200);
      expect(lastCall().request).toEqual({ order: "ORDER_ASC" });
    });

    it.each([
      ["page=abc", "page"],
      ["page=1.5", "page"],
      ["page=2147483648", "page"],
      ["page=", "page"],
      ["page_size=0x10", "page_size"],
      ["includeHidden=yes", "includeHidden"],
      ["order=ORDER_SIDEWAYS", "order"],
      ["ratio=fast", "ratio"],
      ["ids=1&ids=x", "ids"],
      ["page=1&page=2", "page"],
      ["pag=1", "pag"],
      ["shelf=x", "shelf"],
    ])("answers 400 naming the parameter for %s", async (query, field) => {
      const res = await ask({ path: `/v1/items?${query}` });
      expect(res.status).toBe(400);
      const body = res.json as { code: string; message: string; details: { field: string; reason: string }[] };
      expect(body.code).toBe("invalid_argument");
      expect(body.message).toContain(`"${field}"`);
      expect(body.details).toEqual([{ field, reason: expect.any(String) as string }]);
      expect(calls).toHaveLength(0);
    });

    it("rejects a query parameter for a field the path binds", async () => {
      const res = await ask({ path: "/v1/items/x?name=y" });
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ details: [{ field: "name", reason: "set by the path" }] });
    });

    it("rejects query parameters on a body:* route", async () => {
      const res = await ask({ method: "POST", path: "/v1/items?name=y", json: { name: "x" } });
      expect(res.status).toBe(400);
      expect(calls).toHaveLength(0);
    });
  });

  describe("request bodies", () => {
    it("maps body * onto the whole request and echoes the response", async () => {
      const item = { name: "n", count: 3, tags: ["t"], flag: true, shelf: { id: "s", theme: "" }, labels: { a: [1, { b: null }] } };
      const res = await ask({ method: "POST", path: "/v1/items", json: item });
      expect(res.status).toBe(200);
      expect(lastCall().request).toEqual({ name: "n", count: 3, tags: ["t"], flag: true, shelf: { id: "s" }, labels: { a: [1, { b: null }] } });
      expect(res.json).toEqual(item);
    });

    it("rejects unknown fields in a body * (400 naming the body)", async () => {
      const res = await ask({ method: "POST", path: "/v1/items", json: { name: "n", color: "red" } });
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ code: "invalid_argument", details: [{ field: "*" }] });
      expect((res.json as { message: string }).message).toContain('"color"');
    });

    it("names the field of a wrongly typed value in a body *", async () => {
      const res = await ask({ method: "POST", path: "/v1/items", json: { count: "many" } });
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ code: "invalid_argument", details: [{ field: "count" }] });
    });

    it("maps a bare JSON array onto a repeated body field; an empty output has no body", async () => {
      const res = await ask({ method: "DELETE", path: "/v1/items?force=true", json: ["a", "b"] });
      expect(res.status).toBe(202);
      expect(res.text).toBe("");
      expect(res.headers["content-type"]).toBeUndefined();
      expect(lastCall()).toEqual({ rpc: "deleteItems", request: { names: ["a", "b"], force: true } });
    });

    it("treats an empty body as absent so the handler can reject it", async () => {
      const res = await ask({ method: "DELETE", path: "/v1/items", headers: { "content-type": "application/json" }, body: "" });
      expect(res.status).toBe(400);
      expect(res.json).toEqual({ code: "invalid_argument", message: "names: empty body", details: [] });
      expect(lastCall().request).toEqual({});
    });

    it("answers 400 naming the body field when a repeated field gets an object", async () => {
      const res = await ask({ method: "DELETE", path: "/v1/items", json: { names: ["a"] } });
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ details: [{ field: "names" }] });
    });

    it("maps any JSON onto a google.protobuf.Value body field", async () => {
      for (const doc of [{ a: 1, nested: { b: [true] } }, [{ x: 1 }, { y: 2 }], "text", 5, null]) {
        calls.length = 0;
        const res = await ask({ method: "PUT", path: "/v1/docs/d1", json: doc });
        expect(res.status).toBe(202);
        expect(lastCall().request).toEqual({ id: "d1", doc });
        expect(res.json).toEqual([]);
      }
    });

    it("answers 400 naming the body field for malformed JSON", async () => {
      const res = await ask({ method: "PUT", path: "/v1/docs/d1", headers: { "content-type": "application/json" }, body: "{nope" });
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ code: "invalid_argument", details: [{ field: "doc" }] });
      expect((res.json as { message: string }).message).toContain('"doc"');
      expect(calls).toHaveLength(0);
    });

    it("answers 400 for malformed JSON in a body *", async () => {
      const res = await ask({ method: "POST", path: "/v1/items", headers: { "content-type": "application/json" }, body: "[1," });
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ code: "invalid_argument", details: [{ field: "*" }] });
    });

    it.each([
      ["missing", undefined],
      ["text/plain", "text/plain"],
      ["application/jsonx", "application/jsonx"],
      ["form", "application/x-www-form-urlencoded"],
    ])("answers 415 for a body with Content-Type %s, whatever the body", async (_label, type) => {
      const headers: Record<string, string> = type === undefined ? {} : { "content-type": type };
      const res = await ask({ method: "PUT", path: "/v1/docs/d1", headers, body: new TextEncoder().encode('{"ok":true}') });
      expect(res.status).toBe(415);
      expect(res.json).toMatchObject({ code: "invalid_argument", details: [] });
      expect(calls).toHaveLength(0);
    });

    it("accepts Content-Type parameters and any case", async () => {
      const res = await ask({ method: "PUT", path: "/v1/docs/d1", headers: { "content-type": "Application/JSON; charset=utf-8" }, body: "{}" });
      expect(res.status).toBe(202);
    });

    it("answers 413 for a body over the limit", async () => {
      const res = await ask({ method: "PUT", path: "/v1/docs/d1", json: { big: "x".repeat(MAX_BODY) } });
      expect(res.status).toBe(413);
      expect(res.json).toMatchObject({ code: "resource_exhausted" });
      expect(calls).toHaveLength(0);
    });

    it("takes a body of exactly the limit", async () => {
      const doc = "x".repeat(MAX_BODY - 2);
      const res = await ask({ method: "PUT", path: "/v1/docs/d1", json: doc });
      expect(res.status).toBe(202);
      expect(lastCall().request).toEqual({ id: "d1", doc });
    });

    it("reaches the same RPC through an additional binding with a verb", async () => {
      const res = await ask({ method: "POST", path: "/v1/docs/d%3A2:replace", json: { v: 1 } });
      expect(res.status).toBe(202);
      expect(lastCall()).toEqual({ rpc: "putDoc", request: { id: "d:2", doc: { v: 1 } } });
      expect(res.headers["x-doc-id"]).toBe("d:2");
    });
  });

  describe("responses", () => {
    it("answers 409 with a body through the status slot", async () => {
      const res = await ask({ method: "PUT", path: "/v1/docs/taken", json: {} });
      expect(res.status).toBe(409);
      expect(res.json).toEqual(["taken"]);
    });

    it("answers {} for an unset message response_body", async () => {
      const res = await ask({ path: "/v1/wrapped/none" });
      expect(res.status).toBe(200);
      expect(res.json).toEqual({});
      const set = await ask({ path: "/v1/wrapped/w" });
      expect(set.json).toEqual({ name: "w", count: 0, tags: [], flag: false });
    });

    it.each([
      ["invalid_argument", 400],
      ["failed_precondition", 400],
      ["out_of_range", 400],
      ["unauthenticated", 401],
      ["permission_denied", 403],
      ["not_found", 404],
      ["already_exists", 409],
      ["aborted", 409],
      ["resource_exhausted", 429],
      ["canceled", 499],
      ["unimplemented", 501],
      ["unavailable", 503],
      ["deadline_exceeded", 504],
      ["internal", 500],
      ["unknown", 500],
      ["data_loss", 500],
    ])("maps ConnectError %s to HTTP %i with its details", async (code, status) => {
      const res = await ask({ method: "POST", path: "/v1/fail", json: { code, message: "it went wrong" } });
      expect(res.status).toBe(status);
      expect(res.headers["content-type"]).toBe("application/json");
      expect(res.headers["x-error-hint"]).toBe("see details");
      expect(res.json).toEqual({
        code,
        message: "it went wrong",
        details: [
          { field: "[1].name", reason: "too long" },
          { names: ["a", "b"], reason: "exist already" },
        ],
      });
    });

    it("answers 500 internal for a non-Connect exception without leaking it, and logs it", async () => {
      const res = await ask({ method: "POST", path: "/v1/fail", json: { code: "", message: "secret-body-value" } });
      expect(res.status).toBe(500);
      expect(res.json).toEqual({ code: "internal", message: "internal error", details: [] });
      expect(res.text).not.toContain("hunter2");
      const logged = log.lines.join("");
      expect(logged).toContain('"level":50');
      expect(logged).toContain("exploded");
      // Request bodies are never logged.
      expect(logged).not.toContain("secret-body-value");
    });
  });
});

describe("transport specifics", () => {
  it("ignores a body sent to a GET route (HTTP/1.1)", async () => {
    const res = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port: served.http1Port, method: "GET", path: "/v1/items/x", headers: { "content-type": "text/plain", "content-length": "15" } }, (r) => {
        let text = "";
        r.on("data", (c: Buffer) => (text += c.toString()));
        r.on("end", () => resolve({ status: r.statusCode ?? 0, text }));
      });
      req.on("error", reject);
      req.end("not json at all");
    });
    expect(res.status).toBe(200);
    expect(lastCall().request).toEqual({ name: "x" });
  });

  it("ignores a body sent to a GET route (h2c)", async () => {
    const res = await served.h2c({ path: "/v1/items/x", headers: { "content-type": "text/plain" }, body: "not json" });
    expect(res.status).toBe(200);
    expect(lastCall().request).toEqual({ name: "x" });
  });

  it("answers 413 to a chunked body over the limit while reading it (HTTP/1.1)", async () => {
    const chunk = new TextEncoder().encode(`"${"x".repeat(MAX_BODY)}"`);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(chunk);
        controller.close();
      },
    });
    const res = await fetch(`http://127.0.0.1:${served.http1Port}/v1/docs/d1`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body,
      duplex: "half",
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ code: "resource_exhausted" });
    expect(calls).toHaveLength(0);
  });

  it("never parses a body over the limit, whatever its framing: the limit is enforced while reading, before JSON.parse", async () => {
    const parse = vi.spyOn(JSON, "parse");
    try {
      const oversized = `"${"z".repeat(MAX_BODY * 8)}"`;
      const chunked = new ReadableStream<Uint8Array>({
        start(controller) {
          // Many small chunks: a limit checked only at the end would buffer and parse them all.
          for (let i = 0; i < oversized.length; i += 256) controller.enqueue(new TextEncoder().encode(oversized.slice(i, i + 256)));
          controller.close();
        },
      });
      const http1 = await fetch(`http://127.0.0.1:${served.http1Port}/v1/docs/d1`, { method: "PUT", headers: { "content-type": "application/json" }, body: chunked, duplex: "half" } as RequestInit);
      expect(http1.status).toBe(413);
      const h2 = await served.h2c({ method: "PUT", path: "/v1/docs/d1", headers: { "content-type": "application/json" }, body: oversized });
      expect(h2.status).toBe(413);
      const declared = await served.http1({ method: "PUT", path: "/v1/docs/d1", headers: { "content-type": "application/json" }, body: oversized });
      expect(declared.status).toBe(413);
      expect(calls).toHaveLength(0);
      const parsedSizes = parse.mock.calls.map(([text]) => String(text).length);
      expect(parsedSizes.filter((n) => n > MAX_BODY)).toEqual([]);
    } finally {
      parse.mockRestore();
    }
  });

  it("answers 415 to a chunked body without Content-Type before reading it (HTTP/1.1)", async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("[]"));
        controller.close();
      },
    });
    const res = await fetch(`http://127.0.0.1:${served.http1Port}/v1/items`, { method: "DELETE", body, duplex: "half" } as RequestInit);
    expect(res.status).toBe(415);
  });

  it("keeps serving on the same HTTP/2 session after a 413", async () => {
    const big = await served.h2c({ method: "PUT", path: "/v1/docs/d1", headers: { "content-type": "application/json" }, body: `"${"y".repeat(MAX_BODY * 4)}"` });
    expect(big.status).toBe(413);
    const next = await served.h2c({ path: "/v1/items/after" });
    expect(next.status).toBe(200);
  });

  it("aborts the handler's signal when the HTTP/1.1 client goes away", async () => {
    let called = false;
    let reason: unknown;
    let server!: http.Server;
    const aborted = new Promise<void>((resolve) => {
      const impl = {
        getItem: (_req: unknown, ctx: HandlerContext) => {
          called = true;
          ctx.signal.addEventListener("abort", () => {
            reason = ctx.signal.reason;
            resolve();
          });
          return new Promise(() => undefined);
        },
      };
      const { handle } = createRestTranscoder({ services: [{ service: TranscodingService, impl }], maxBodyBytes: 1024, logger: createLogger("silent") });
      server = http.createServer(handle as (req: http.IncomingMessage, res: http.ServerResponse) => void);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as AddressInfo).port;
    const controller = new AbortController();
    const pending = fetch(`http://127.0.0.1:${port}/v1/items/x`, { signal: controller.signal }).catch((e: unknown) => e);
    await expect.poll(() => called).toBe(true);
    controller.abort();
    await pending;
    await aborted;
    expect(reason).toMatchObject({ code: Code.Canceled });
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it("ends the handler's signal once the call has completed, with a Canceled reason (as Connect does)", async () => {
    const signals: AbortSignal[] = [];
    const impl = {
      getItem: (_req: unknown, ctx: HandlerContext) => {
        signals.push(ctx.signal);
        return {};
      },
    };
    const { handle } = createRestTranscoder({ services: [{ service: TranscodingService, impl }], maxBodyBytes: 1024, logger: createLogger("silent") });
    const server = http.createServer(handle as (req: http.IncomingMessage, res: http.ServerResponse) => void);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    try {
      const port = (server.address() as AddressInfo).port;
      for (const id of ["a", "b"]) expect((await fetch(`http://127.0.0.1:${port}/v1/items/${id}`)).status).toBe(200);
      expect(signals).toHaveLength(2);
      for (const signal of signals) {
        expect(signal.aborted).toBe(true);
        expect(signal.reason).toBeInstanceOf(ConnectError);
        expect(signal.reason).toMatchObject({ code: Code.Canceled });
      }
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
