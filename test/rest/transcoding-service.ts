import { create, toJson, type JsonValue, type Message } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import { FieldViolationSchema, NamesViolationSchema } from "../../gen/agenthub/v1/errors_pb.js";
import { setHttpStatus } from "../../src/rest/http-status.js";
import { TranscodingService, ItemSchema, type Item } from "../gen/transcoding/v1/transcoding_pb.js";

/** One call the test service received: the RPC's name and its request as proto3 JSON. */
export interface Call {
  rpc: string;
  request: JsonValue;
}

/**
 * The test service: every RPC records its request (as JSON, so tests compare plain objects)
 * and answers something recognizable. NotImplemented and WatchItems are left out on purpose.
 */
export function transcodingImpl(calls: Call[]): Partial<ServiceImpl<typeof TranscodingService>> {
  const record = (rpc: keyof typeof TranscodingService.method, request: Message): void => {
    const desc = TranscodingService.method[rpc].input;
    calls.push({ rpc, request: toJson(desc, request as never) });
  };
  const item = (name: string): Item => create(ItemSchema, { name, count: 1, tags: [] });
  return {
    getItem(req) {
      record("getItem", req);
      return item(req.name);
    },
    getSpecialItem(req, ctx) {
      record("getSpecialItem", req);
      const tag = ctx.requestHeader.get("x-tag");
      return { name: "special", tags: tag === null ? [] : [tag] };
    },
    getFile(req) {
      record("getFile", req);
      return { name: req.path };
    },
    getBook(req) {
      record("getBook", req);
      return { name: req.book, shelf: req.shelf };
    },
    listItems(req) {
      record("listItems", req);
      return { items: [item("a")], total: 1, page: req.page };
    },
    searchItems(req) {
      record("searchItems", req);
      return { items: [], total: 0 };
    },
    createItem(req) {
      record("createItem", req);
      return req;
    },
    deleteItems(req, ctx) {
      record("deleteItems", req);
      if (req.names.length === 0) throw new ConnectError("names: empty body", Code.InvalidArgument);
      setHttpStatus(ctx, 202);
      return {};
    },
    async putDoc(req, ctx) {
      record("putDoc", req);
      await Promise.resolve();
      if (req.id === "taken") {
        setHttpStatus(ctx, 409);
        return { conflicts: ["taken"] };
      }
      setHttpStatus(ctx, 202);
      ctx.responseHeader.set("x-doc-id", req.id);
      return { conflicts: [] };
    },
    getWrapped(req) {
      record("getWrapped", req);
      return req.id === "none" ? {} : { item: { name: req.id } };
    },
    fail(req) {
      record("fail", req);
      if (req.code === "") throw new Error(`database password=hunter2 exploded`);
      const code = Object.values(Code).find((c): c is Code => typeof c === "number" && codeToString(c) === req.code);
      if (code === undefined) throw new Error(`test asked for unknown code ${req.code}`);
      throw new ConnectError(req.message, code, { "x-error-hint": "see details" }, [
        { desc: FieldViolationSchema, value: { field: "[1].name", reason: "too long" } },
        { desc: NamesViolationSchema, value: { names: ["a", "b"], reason: "exist already" } },
      ]);
    },
  };
}
