import type { AddressInfo, Server as NetServer, Socket } from "node:net";
import * as http2 from "node:http2";
import type { RequestHandler } from "../rest/node-http.js";
import { createSessionPinger } from "./session-pinger.js";
import { createPlaintextServer } from "./plaintext-server.js";
import { systemClock, type Clock } from "../hub/clock.js";
import type { TlsFiles } from "./tls-files.js";

/** Raises Node's HTTP/2 defaults, which are sized for browsers, not for thousands of agent streams. */
export const HTTP2_SETTINGS: http2.ServerOptions = {
  peerMaxConcurrentStreams: 1000,
  maxSessionMemory: 64,
  settings: { maxConcurrentStreams: 1000 },
};

/**
 * The HTTP/2 settings of both listeners: HTTP2_SETTINGS with at most `maxConcurrentStreams`
 * streams per connection (`limits.maxConcurrentStreams`), announced in SETTINGS and enforced by
 * nghttp2, which refuses a stream beyond it (RST_STREAM REFUSED_STREAM, safe for a client to
 * retry). Each REST stream may buffer up to `http.maxBodyBytes`, so this also bounds what one
 * connection can make the hub hold.
 */
function http2Settings(maxConcurrentStreams: number): http2.ServerOptions {
  return { ...HTTP2_SETTINGS, settings: { ...HTTP2_SETTINGS.settings, maxConcurrentStreams } };
}

/** A listening server that can be closed with a grace period for open connections. */
export interface Listener {
  port: number;
  /** Stops accepting, waits up to `graceMs` for open connections, then cuts the rest. */
  close(graceMs: number): Promise<void>;
}

/** Counts requests in flight so that shutdown can wait for them and no longer. */
function countRequests(handler: RequestHandler, pingIntervalMs: number, clock: Clock): { handler: RequestHandler; idle(): Promise<void>; stop(): void } {
  const pinger = createSessionPinger(pingIntervalMs, clock);
  let active = 0;
  let waiters: (() => void)[] = [];
  return {
    handler(req, res) {
      pinger.watch(req);
      active++;
      res.once("close", () => {
        active--;
        if (active === 0) {
          for (const w of waiters) w();
          waiters = [];
        }
      });
      handler(req, res);
    },
    idle: () => (active === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
    stop: () => pinger.stop(),
  };
}

/**
 * Closes a socket that carried no byte either way for `idleTimeoutMs` (an idle keep-alive, a
 * preface never sent, a half-open connection the PINGs get no answer on). The socket's own
 * timer is not enough: it is refreshed by reads and writes that pass through JavaScript, and an
 * HTTP/2 session's nghttp2 reads and writes the native handle directly, so a busy agent
 * connection would be cut every `idleTimeoutMs` (it was, until 2026-12-01: every agent stream of
 * the 10,000-agent benchmark ended after 120 s). When the timer fires, the handle's byte counter
 * (`bytesRead`, counted natively) or the JavaScript-side written bytes decide: traffic since the
 * last look re-arms the timer, so an idle HTTP/2 connection is closed after one to two periods.
 */
function closeWhenIdle(socket: Socket, idleTimeoutMs: number): void {
  const traffic = () => socket.bytesRead + socket.bytesWritten;
  let seen = traffic();
  socket.on("timeout", () => {
    const now = traffic();
    if (now === seen) {
      socket.destroy();
      return;
    }
    seen = now;
    socket.setTimeout(idleTimeoutMs);
  });
  socket.setTimeout(idleTimeoutMs);
}

function track(server: NetServer, port: number, requests: { idle(): Promise<void>; stop(): void }, idleTimeoutMs: number): Listener {
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    closeWhenIdle(socket, idleTimeoutMs);
  });
  return {
    port,
    async close(graceMs) {
      // Stop accepting; let requests in flight finish (streams end through the shutdown signal),
      // then cut idle keep-alive connections instead of waiting for clients to hang up.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([requests.idle(), new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
      clearTimeout(timer);
      requests.stop();
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

async function listen(server: NetServer, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** Connection limits of a listener (design section 15, `limits.*`). */
export interface ConnectionLimits {
  /** Open TCP connections; more are refused as they arrive. */
  maxConnections: number;
  /** HTTP/1.1: time to send the request headers. */
  headersTimeoutMs: number;
  /** HTTP/1.1: time to send the whole request. */
  requestTimeoutMs: number;
  /** A connection without traffic either way for this long is closed. */
  idleTimeoutMs: number;
  /** HTTP/2 streams open at once on one connection. */
  maxConcurrentStreams: number;
}

/** Where and how to listen. */
export interface ListenOptions {
  port: number;
  host: string;
  /** HTTP/2 PING period for finding half-open connections. */
  pingIntervalMs: number;
  /** Times the PINGs with the hub's schedule (a test's manual clock); the system clock by default. */
  clock?: Clock;
  /** TLS only, when set (design section 14). */
  tls?: TlsFiles;
  limits: ConnectionLimits;
}

/**
 * A TLS-only server with ALPN h2 and http/1.1 (gRPC, Connect, gRPC-Web and REST as on the
 * plaintext listener). Client certificates are asked for when a client CA is set, but not
 * required: a connection without one may still authenticate with a token, and one that does not
 * verify counts as none. Certificate changes apply to new connections; open ones keep theirs.
 */
function secureServer(tls: TlsFiles, limits: ConnectionLimits, handler: RequestHandler): http2.Http2SecureServer {
  const server = http2.createSecureServer(
    { ...http2Settings(limits.maxConcurrentStreams), ...tls.current(), allowHTTP1: true, ALPNProtocols: ["h2", "http/1.1"], requestCert: tls.clientCa, rejectUnauthorized: false },
    handler as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
  );
  tls.onChange((options) => server.setSecureContext(options));
  return server;
}

/** The TLS listener of either kind: ALPN serves both protocols, with the same connection limits. */
async function listenSecure(tls: TlsFiles, limits: ConnectionLimits, port: number, host: string, counted: ReturnType<typeof countRequests>): Promise<Listener> {
  const server = secureServer(tls, limits, counted.handler);
  server.maxConnections = limits.maxConnections;
  return track(server, await listen(server, port, host), counted, limits.idleTimeoutMs);
}

/** One port for HTTP/1.1 and h2c: gRPC, Connect, gRPC-Web and REST together. */
export async function listenPolyglot({ port, host, pingIntervalMs, tls, limits, clock = systemClock }: ListenOptions, handler: RequestHandler): Promise<Listener> {
  const counted = countRequests(handler, pingIntervalMs, clock);
  if (tls !== undefined) return listenSecure(tls, limits, port, host, counted);
  const http1 = {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    // Node checks these timeouts only this often (30 s by default, longer than the timeouts themselves).
    connectionsCheckingInterval: Math.max(50, Math.min(limits.headersTimeoutMs, 1_000)),
    // Node's keep-alive must end before the idle cut, so that clients hear of it (Keep-Alive header).
    keepAliveTimeout: Math.min(5_000, limits.idleTimeoutMs),
  };
  const { server, http1: inner } = createPlaintextServer(http1, http2Settings(limits.maxConcurrentStreams), counted.handler);
  server.maxConnections = limits.maxConnections;
  const listener = track(server, await listen(server, port, host), counted, limits.idleTimeoutMs);
  // The inner HTTP/1.1 server never listens itself, and Node only starts checking
  // headersTimeout/requestTimeout when a server emits "listening": start and stop that by hand.
  inner.emit("listening");
  return {
    port: listener.port,
    async close(graceMs) {
      await listener.close(graceMs);
      // Clears Node's checking timer; the "not running" error of a server that never listened is expected.
      inner.close(() => {});
    },
  };
}

/** An h2c-only listener for agents that skips the protocol sniffing layer (design section 13). */
export async function listenH2c({ port, host, pingIntervalMs, tls, limits, clock = systemClock }: ListenOptions, handler: RequestHandler): Promise<Listener> {
  const counted = countRequests(handler, pingIntervalMs, clock);
  if (tls !== undefined) return listenSecure(tls, limits, port, host, counted);
  const server = http2.createServer(http2Settings(limits.maxConcurrentStreams), counted.handler as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void);
  server.maxConnections = limits.maxConnections;
  return track(server, await listen(server, port, host), counted, limits.idleTimeoutMs);
}
