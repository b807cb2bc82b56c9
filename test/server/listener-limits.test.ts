import * as http2 from "node:http2";
import { connect, type Socket } from "node:net";
import type { ServerResponse } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { listenH2c, listenPolyglot, type ConnectionLimits, type Listener, type ListenOptions } from "../../src/server/listener.js";
import type { RequestHandler } from "../../src/rest/node-http.js";
import { createTestPki } from "../auth/support/pki.js";

const LIMITS: ConnectionLimits = { maxConnections: 100, headersTimeoutMs: 10_000, requestTimeoutMs: 10_000, idleTimeoutMs: 10_000, maxConcurrentStreams: 100 };

/** A socket to the listener, with a promise of when the server closed it (and what it answered). */
function open(port: number): { socket: Socket; closed: Promise<{ afterMs: number; answer: string }> } {
  const socket = connect(port, "127.0.0.1");
  const started = Date.now();
  let answer = "";
  socket.on("data", (chunk: Buffer) => (answer += chunk.toString("latin1")));
  socket.on("error", () => {});
  const closed = new Promise<{ afterMs: number; answer: string }>((resolve) => socket.once("close", () => resolve({ afterMs: Date.now() - started, answer })));
  return { socket, closed };
}

describe("listener limits", () => {
  let listener: Listener | undefined;
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await listener?.close(100);
    listener = undefined;
  });

  async function start(limits: Partial<ConnectionLimits> = {}): Promise<number> {
    listener = await listenPolyglot(
      {
        port: 0,
        host: "127.0.0.1",
        pingIntervalMs: 10_000,
        limits: { ...LIMITS, ...limits },
      },
      (_req, res) => {
        res.writeHead(200, { "content-type": "text/plain" });
        res.end("ok");
      },
    );
    return listener.port;
  }

  it("closes a connection that never sends a byte after limits.idleTimeout", async () => {
    const port = await start({ idleTimeoutMs: 300 });
    const { socket, closed } = open(port);
    sockets.push(socket);
    const { afterMs, answer } = await closed;
    expect(answer).toBe("");
    expect(afterMs).toBeGreaterThanOrEqual(250);
    expect(afterMs).toBeLessThan(5_000);
  });

  it("answers a request whose headers trickle in slower than limits.headersTimeout with 408 and closes it", async () => {
    const port = await start({ headersTimeoutMs: 300, idleTimeoutMs: 5_000 });
    const { socket, closed } = open(port);
    sockets.push(socket);
    socket.write("GET / HTTP/1.1\r\nHost: x\r\n");
    // One header byte every 100 ms: never idle, never complete.
    const trickle = setInterval(() => socket.write("X"), 100);
    try {
      const { afterMs, answer } = await closed;
      expect(answer).toMatch(/^HTTP\/1\.1 408/);
      expect(afterMs).toBeLessThan(4_000);
    } finally {
      clearInterval(trickle);
    }
  });

  it("refuses connections beyond limits.maxConnections and serves the others", async () => {
    const port = await start({ maxConnections: 3 });
    const held = [open(port), open(port), open(port)];
    sockets.push(...held.map((h) => h.socket));
    await Promise.all(held.map((h) => new Promise((resolve) => h.socket.once("connect", resolve))));
    // Give the server time to count them.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const extra = open(port);
    sockets.push(extra.socket);
    const { answer } = await extra.closed;
    expect(answer).toBe("");
    // The held connections still work.
    const first = held[0]!;
    first.socket.write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const { answer: served } = await first.closed;
    expect(served).toMatch(/^HTTP\/1\.1 200/);
  });

  it.each([
    ["the main port (h2c through the sniffing layer)", listenPolyglot],
    ["grpc.agentPort (h2c only)", listenH2c],
  ])("refuses HTTP/2 streams beyond limits.maxConcurrentStreams on one connection, on %s, and keeps the connection", async (_name, listen) => {
    const held: ServerResponse[] = [];
    listener = await listen({ port: 0, host: "127.0.0.1", pingIntervalMs: 10_000, limits: { ...LIMITS, maxConcurrentStreams: 4 } }, (_req, res) => {
      held.push(res as ServerResponse);
    });
    const client = http2.connect(`http://127.0.0.1:${listener.port}`);
    client.on("error", () => {});
    try {
      // Sent together with the preface, before the server's SETTINGS reach the client: the
      // client cannot hold itself back, so the server must refuse what is over the limit.
      const outcomes = Array.from({ length: 12 }, () =>
        new Promise<string>((resolve) => {
          const req = client.request({ ":path": "/" });
          req.on("response", (headers) => {
            req.resume();
            req.on("end", () => resolve(String(headers[":status"])));
          });
          req.on("error", () => resolve(`refused ${req.rstCode}`));
          req.end();
        }),
      );
      await expect.poll(() => held.length).toBe(4);
      for (const res of held.splice(0)) res.end("ok");
      const counts: Record<string, number> = {};
      for (const outcome of await Promise.all(outcomes)) counts[outcome] = (counts[outcome] ?? 0) + 1;
      expect(counts).toEqual({ "200": 4, [`refused ${http2.constants.NGHTTP2_REFUSED_STREAM}`]: 8 });
      expect(client.remoteSettings.maxConcurrentStreams).toBe(4);

      // The connection still serves, one limit's worth at a time (the client now queues the rest itself).
      const later = Array.from({ length: 6 }, () =>
        new Promise<string>((resolve, reject) => {
          const req = client.request({ ":path": "/" });
          req.on("response", (headers) => {
            req.resume();
            req.on("end", () => resolve(String(headers[":status"])));
          });
          req.on("error", reject);
          req.end();
        }),
      );
      await expect.poll(() => held.length).toBe(4);
      for (const res of held.splice(0)) res.end("ok");
      await expect.poll(() => held.length).toBe(2);
      for (const res of held.splice(0)) res.end("ok");
      expect(await Promise.all(later)).toEqual(Array(6).fill("200"));
    } finally {
      client.close();
    }
  });

  it.each([
    ["the main port (h2c through the sniffing layer)", "h2c", listenPolyglot],
    ["grpc.agentPort (h2c only)", "h2c", listenH2c],
    ["the TLS port", "tls", listenPolyglot],
  ] as const)("keeps an HTTP/2 connection that carries traffic past limits.idleTimeout, on %s, and closes it once it is idle", async (_name, kind, listen) => {
    const pki = kind === "tls" ? createTestPki() : undefined;
    try {
      const issued = pki?.issue("server", { cn: "localhost", ip: ["127.0.0.1"] });
      const tls = issued === undefined ? undefined : { clientCa: false, current: () => ({ cert: issued.cert, key: issued.key }), onChange: () => {}, close: () => {} };
      const echoBytes: RequestHandler = (req, res) => {
        let n = 0;
        req.on("data", (chunk: Buffer) => (n += chunk.length));
        req.on("end", () => res.end(String(n)));
      };
      const options: ListenOptions = { port: 0, host: "127.0.0.1", pingIntervalMs: 60_000, limits: { ...LIMITS, idleTimeoutMs: 200 }, ...(tls === undefined ? {} : { tls }) };
      listener = await listen(options, echoBytes);
      const client = http2.connect(`${tls === undefined ? "http" : "https"}://127.0.0.1:${listener.port}`, pki === undefined ? {} : { ca: pki.ca });
      client.on("error", () => {});
      const closedAt = new Promise<number>((resolve) => client.once("close", () => resolve(Date.now())));
      try {
        // A stream that sends 10 bytes every 100 ms for four idle periods, as an agent's heartbeats do.
        const req = client.request({ ":method": "POST", ":path": "/" });
        let answer = "";
        req.setEncoding("utf8");
        req.on("data", (d: string) => (answer += d));
        const ended = new Promise<void>((resolve, reject) => {
          req.on("end", () => resolve());
          req.on("error", reject);
        });
        for (let i = 0; i < 8; i++) {
          req.write("0123456789");
          await new Promise((r) => setTimeout(r, 100));
        }
        expect(client.closed || client.destroyed).toBe(false);
        req.end();
        await ended;
        expect(answer).toBe("80");
        const lastByte = Date.now();
        // Then nothing either way: closed after one to two idle periods.
        expect((await closedAt) - lastByte).toBeLessThan(1_000);
      } finally {
        client.destroy();
      }
    } finally {
      pki?.remove();
    }
  });
});
