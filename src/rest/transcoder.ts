import { create, createRegistry, isMessage, type DescFile, type DescService, type JsonValue, type Message, type Registry } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createContextValues,
  createHandlerContext,
  type ContextValues,
  type HandlerContext,
  type Interceptor,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import { file_agenthub_v1_errors } from "../../gen/agenthub/v1/errors_pb.js";
import type { Logger } from "../log/logger.js";
import type { NodeRequest, NodeResponse, RequestHandler } from "./node-http.js";
import { readHttpRoutes, type HttpRoute } from "./http-rules.js";
import { httpStatusKey, type HttpStatusSlot } from "./http-status.js";
import { renderError, RestError } from "./json-errors.js";
import { PathDecodeError, captureVariables, type CapturedVariable, type TemplateMatch } from "./path-template.js";
import { parseJsonBody, readBody } from "./request-body.js";
import { passableHeaders, requestHeaders, sendResponse } from "./node-http.js";
import { buildRequestMessage } from "./request-message.js";
import { renderResponseBody } from "./response-body.js";
import { createRouteTable } from "./route-table.js";
import { jsonFieldPath } from "./field-path.js";

/** The reason a handler's signal aborts with once its call has completed. */
const CALL_COMPLETED = new ConnectError("the call completed", Code.Canceled);

/** A proto service and its implementation, served over REST by its google.api.http rules. */
export interface RestService {
  service: DescService;
  /** The same implementation object the Connect router serves. */
  impl: object;
}

export interface RestTranscoderOptions {
  services: RestService[];
  /** Largest request body accepted; larger ones get 413. */
  maxBodyBytes: number;
  /** Time a client has to send a request body (HTTP/2 has no server-wide request timeout). */
  bodyTimeoutMs?: number;
  logger: Logger;
  /**
   * The Connect router's interceptors, run around every handler call as Connect runs them (the
   * auth interceptor: REST gets the same decisions as gRPC, from the same code).
   */
  interceptors?: Interceptor[];
  /** The context values a call starts with, as connectNodeAdapter's `contextValues` option. */
  contextValues?: (req: NodeRequest) => ContextValues;
}

/**
 * Serves REST requests by the google.api.http options of the given services, calling the same
 * implementation objects Connect serves. Meant as the `fallback` of `connectNodeAdapter`: it
 * answers every request it gets, with JSON errors for unknown paths (404) and methods (405).
 * Throws at construction when a rule is malformed or two rules claim the same route.
 */
export function createRestTranscoder(options: RestTranscoderOptions): { handle: RequestHandler } {
  const { logger, maxBodyBytes } = options;
  const table = createRouteTable(options.services.flatMap(({ service, impl }) => readHttpRoutes(service, impl)));
  const registry = registryOf([...options.services.map((s) => s.service.file), file_agenthub_v1_errors]);

  const fail = (req: NodeRequest, res: NodeResponse, error: ConnectError, close: boolean): void => {
    const { status, headers, body } = renderError(error, registry);
    // Error metadata goes out as headers, as Connect sends it.
    sendResponse(req, res, status, { ...passableHeaders(error.metadata), ...headers, "content-type": "application/json" }, body, close);
  };

  async function serve(req: NodeRequest, res: NodeResponse): Promise<void> {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const query = new URLSearchParams(q < 0 ? "" : url.slice(q + 1));
    const found = table.lookup(req.method ?? "GET", path);
    if (found.kind === "not-found") {
      throw new RestError(404, Code.NotFound, `no route for ${req.method} ${path}`);
    }
    if (found.kind === "method-not-allowed") {
      const allow = found.allow.join(", ");
      throw new RestError(405, Code.Unimplemented, `${req.method} is not allowed for ${path}; allowed: ${allow}`, [], { allow });
    }
    await call(found.route, found.match, query, req, res);
  }

  async function call(route: HttpRoute, match: TemplateMatch, query: URLSearchParams, req: NodeRequest, res: NodeResponse): Promise<void> {
    const { method, impl } = route;
    const fn: unknown = (impl as Record<string, unknown>)[method.localName];
    if (method.methodKind !== "unary") {
      throw new RestError(501, Code.Unimplemented, `${method.parent.typeName}.${method.name} is a streaming method; REST serves unary methods only`);
    }
    if (typeof fn !== "function") {
      throw new ConnectError(`${method.parent.typeName}.${method.name} is not implemented`, Code.Unimplemented);
    }
    let variables: CapturedVariable[];
    try {
      variables = captureVariables(route.template, match);
    } catch (e) {
      if (e instanceof PathDecodeError) throw new RestError(400, Code.InvalidArgument, e.message);
      throw e;
    }
    let body: JsonValue | undefined;
    if (route.body.kind !== "none") {
      const bytes = await readBody(req, maxBodyBytes, options.bodyTimeoutMs);
      // An empty body leaves the field unset, so the handler can answer its own 400 for it.
      if (bytes.length > 0) body = parseJsonBody(bytes, route.body.kind === "all" ? "*" : jsonFieldPath(route.body.path));
    }
    const input = buildRequestMessage(route, { variables, query, body }, registry);

    const slot: HttpStatusSlot = { status: undefined };
    const disconnected = new AbortController();
    // The response's "close" before it finished is the client going away (a request's own
    // "close" only says its body was read), on HTTP/1.1 and HTTP/2 alike.
    const onClose = (): void => {
      if (!res.writableFinished) disconnected.abort(new ConnectError("client disconnected", Code.Canceled));
    };
    res.once("close", onClose);
    const ctx = createHandlerContext({
      service: route.service,
      method,
      protocolName: "rest",
      requestMethod: req.method ?? "GET",
      url: `http://${req.headers.host ?? req.headers[":authority"] ?? "localhost"}${req.url ?? "/"}`,
      requestSignal: disconnected.signal,
      requestHeader: requestHeaders(req),
      contextValues: (options.contextValues?.(req) ?? createContextValues()).set(httpStatusKey, slot),
    });
    let output: Message;
    try {
      const invoke = async (request: UnaryRequest): Promise<UnaryResponse> => {
        const result: unknown = await (fn as (request: Message, context: HandlerContext) => unknown).call(impl, request.message, ctx);
        const message = isMessage(result, method.output) ? result : create(method.output, result as Parameters<typeof create>[1]);
        return { stream: false, service: route.service, method: method as never, header: ctx.responseHeader, trailer: ctx.responseTrailer, message };
      };
      const chain = (options.interceptors ?? []).reduceRight<(r: UnaryRequest) => Promise<UnaryResponse>>(
        (next, interceptor) => interceptor(next as never) as never,
        invoke,
      );
      const response = await chain({
        stream: false,
        service: route.service,
        method: method as never,
        requestMethod: ctx.requestMethod,
        url: ctx.url,
        signal: ctx.signal,
        header: ctx.requestHeader,
        contextValues: ctx.values,
        message: input,
      });
      output = response.message;
    } finally {
      // As with Connect, the handler's signal also ends when the call completes. With a reason
      // made once: without one, every call built a DOMException and its stack (6 % of the hub's
      // CPU in a profile of 600 operations/s).
      ctx.abort(CALL_COMPLETED);
      res.off("close", onClose);
    }
    const status = slot.status ?? 200;
    if (!Number.isInteger(status) || status < 200 || status > 599) {
      throw new Error(`handler asked for HTTP status ${status}`);
    }
    const headers = passableHeaders(ctx.responseHeader);
    const text = status === 204 || status === 304 ? undefined : renderResponseBody(route, output, registry);
    if (text !== undefined) headers["content-type"] = "application/json";
    sendResponse(req, res, status, headers, text, false);
  }

  const answerError = (req: NodeRequest, res: NodeResponse, error: unknown): void => {
    if (error instanceof ConnectError) {
      // 413 stops reading mid-body: close the exchange so the rest is not read either.
      fail(req, res, error, error instanceof RestError && error.httpStatus === 413);
      return;
    }
    // Never the error's own message to the client: it may describe internals. Never the
    // request body in the log: it may hold kubeconfig contents or tokens.
    logger.error({ err: error, method: req.method, path: pathOf(req) }, "REST request failed");
    fail(req, res, new ConnectError("internal error", Code.Internal), false);
  };

  return {
    handle(req, res) {
      serve(req, res)
        .catch((error: unknown) => answerError(req, res, error))
        .catch((error: unknown) => {
          // Even the error answer failed: end the exchange rather than leave the client hanging.
          logger.error({ err: error, method: req.method, path: pathOf(req) }, "REST error answer failed");
          res.destroy();
        });
    },
  };
}

function pathOf(req: NodeRequest): string {
  return (req.url ?? "").split("?", 1)[0]!;
}

/** A registry of every type the services' files (and what they import) define, for Any and error details. */
function registryOf(files: DescFile[]): Registry {
  const all = new Set<DescFile>();
  const add = (file: DescFile): void => {
    if (all.has(file)) return;
    all.add(file);
    file.dependencies.forEach(add);
  };
  files.forEach(add);
  return createRegistry(...all);
}
