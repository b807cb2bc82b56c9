import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { listenPolyglot, type Listener } from "../../src/server/listener.js";

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

  async function start(limits: Partial<Parameters<typeof listenPolyglot>[0]["limits"]> = {}): Promise<number> {
    listener = await listenPolyglot(
      {
        port: 0,
        host: "127.0.0.1",
        pingIntervalMs: 10_000,
        limits: { maxConnections: 100, headersTimeoutMs: 10_000, requestTimeoutMs: 10_000, idleTimeoutMs: 10_000, ...limits },
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
});
