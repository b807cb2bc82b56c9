import { constants as http2Constants } from "node:http2";
import type { connectNodeAdapter } from "@connectrpc/connect-node";

/** A handler for HTTP/1.1 and HTTP/2 requests, as Connect's Node adapter takes it. */
export type RequestHandler = ReturnType<typeof connectNodeAdapter>;
/** The request type Connect's Node adapter takes (HTTP/1.1 or HTTP/2). */
export type NodeRequest = Parameters<RequestHandler>[0];
/** The response type Connect's Node adapter takes (HTTP/1.1 or HTTP/2). */
export type NodeResponse = Parameters<RequestHandler>[1];

/**
 * Headers a handler or an error may not pass on: framing and connection headers are ours to
 * set, and HTTP/2 rejects connection-specific ones outright.
 */
const RESERVED = new Set(["content-type", "content-length", "connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection", "te", "host"]);

/** The request's headers as a Fetch `Headers` for the HandlerContext (HTTP/2 pseudo-headers left out). */
export function requestHeaders(req: NodeRequest): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith(":") || value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  return headers;
}

/** Copies `from` into a plain header record, skipping the headers the transcoder owns. */
export function passableHeaders(from: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  from.forEach((value, name) => {
    if (!RESERVED.has(name)) out[name] = value;
  });
  return out;
}

/**
 * Writes a complete response on HTTP/1.1 or HTTP/2. `close` ends the exchange even though the
 * request body was not read to its end (after a 413): `Connection: close` on HTTP/1.1, and on
 * HTTP/2 a RST_STREAM(NO_ERROR) once the response is out, which is how RFC 9113 §8.1 tells a
 * client to stop sending a body the server no longer wants.
 */
export function sendResponse(
  req: NodeRequest,
  res: NodeResponse,
  status: number,
  headers: Record<string, string>,
  body: string | undefined,
  close: boolean,
): void {
  // The client is gone, or an answer is already out: there is nobody to tell.
  if (res.headersSent || res.writableEnded || res.destroyed) return;
  const bytes = body === undefined ? undefined : Buffer.from(body, "utf8");
  const all: Record<string, string | number> = { ...headers, "content-length": bytes?.length ?? 0 };
  if ("stream" in req) {
    if (close) {
      res.once("finish", () => {
        if (!req.complete && !req.stream.closed) req.stream.close(http2Constants.NGHTTP2_NO_ERROR);
      });
    }
    res.writeHead(status, all);
  } else {
    if (close) all["connection"] = "close";
    res.writeHead(status, all);
  }
  if (bytes === undefined) res.end();
  else res.end(bytes);
}
