import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";

/** What a client sends first on a prior-knowledge h2c connection (RFC 9113 section 3.4). */
const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** HTTP/1.1 and h2c on one plaintext port, told apart by the connection's first bytes. */
export interface PlaintextServer {
  /** Accepts the connections; listen on this one. */
  server: net.Server;
  /** The HTTP/1.1 side, which never listens itself. */
  http1: http.Server;
}

/**
 * One TCP server that hands each connection to an HTTP/1.1 or an h2c server by its first bytes:
 * the HTTP/2 preface goes to h2c, anything else to HTTP/1.1. The bytes read are put back with
 * `unshift` and the socket keeps its native handle, so nghttp2 reads and writes it directly
 * (Node 20 replays a socket's buffered bytes into a new session). A sniffer that hides the handle
 * (httpolyglot marks it `isStreamBase = false`) makes Node wrap every h2c connection in a
 * JavaScript stream, and all agent traffic then passes through JavaScript twice.
 */
export function createPlaintextServer(
  http1Options: http.ServerOptions,
  http2Options: http2.ServerOptions,
  handler: (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => void,
): PlaintextServer {
  const http1 = http.createServer(http1Options, handler as (req: http.IncomingMessage, res: http.ServerResponse) => void);
  const h2c = http2.createServer(http2Options, handler as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void);
  const route = (socket: net.Socket, seen: Buffer): void => {
    const chunk = socket.read() as Buffer | null;
    if (chunk === null) {
      // A client that hangs up before its first request has nothing to be served.
      if (socket.readableEnded) socket.destroy();
      else socket.once("readable", () => route(socket, seen));
      return;
    }
    const data = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const compared = Math.min(data.length, HTTP2_PREFACE.length);
    const h2 = data.subarray(0, compared).equals(HTTP2_PREFACE.subarray(0, compared));
    if (h2 && data.length < HTTP2_PREFACE.length) {
      socket.once("readable", () => route(socket, data));
      return;
    }
    socket.unshift(data);
    socket.off("error", destroyOnError);
    (h2 ? h2c : http1).emit("connection", socket);
  };
  const server = net.createServer((socket) => {
    // Until a protocol server owns the socket, a reset is nobody's concern but the socket's.
    socket.on("error", destroyOnError);
    socket.once("readable", () => route(socket, Buffer.alloc(0)));
  });
  return { server, http1 };
}

function destroyOnError(this: net.Socket): void {
  this.destroy();
}
