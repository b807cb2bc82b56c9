import { afterEach, describe, expect, it } from "vitest";
import * as http2 from "node:http2";
import * as net from "node:net";
import type { AddressInfo } from "node:net";
import { createPlaintextServer, type PlaintextServer } from "../../src/server/plaintext-server.js";

const PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

let running: PlaintextServer | undefined;
const sockets = new Set<net.Socket>();
afterEach(async () => {
  if (running === undefined) return;
  const { server } = running;
  running = undefined;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // A keep-alive connection of fetch's would hold close() for seconds.
  for (const s of sockets) s.destroy();
  sockets.clear();
  await closed;
});

/** A server that answers with the protocol it was reached over and how the h2 session holds its socket. */
async function start(): Promise<number> {
  running = createPlaintextServer({}, {}, (req, res) => {
    const session = "stream" in req ? req.stream.session : undefined;
    // The session's socket proxy binds functions to the socket it holds: a JavaScript stream
    // wrapper shows in the constructor's name.
    const holder = session === undefined ? "-" : (session.socket as unknown as { constructor: { name: string } }).constructor.name;
    res.setHeader("content-type", "text/plain");
    res.end(`${req.httpVersion} ${holder}`);
  });
  running.server.on("connection", (s: net.Socket) => sockets.add(s));
  await new Promise<void>((resolve) => running?.server.listen(0, "127.0.0.1", () => resolve()));
  return (running.server.address() as AddressInfo).port;
}

/** Writes raw bytes in the given pieces, a pause between them, and reads what comes back until the server closes. */
async function raw(port: number, pieces: string[]): Promise<string> {
  const socket = net.connect(port, "127.0.0.1");
  let received = "";
  socket.on("data", (d: Buffer) => (received += d.toString("latin1")));
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  for (const p of pieces) {
    socket.write(p);
    await new Promise((r) => setTimeout(r, 30));
  }
  socket.end();
  await closed;
  return received;
}

async function h2Get(port: number, session: http2.ClientHttp2Session): Promise<string> {
  const req = session.request({ ":path": `/x`, ":authority": `127.0.0.1:${port}` });
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (d: string) => (body += d));
  await new Promise<void>((resolve, reject) => {
    req.on("end", () => resolve());
    req.on("error", reject);
  });
  return body;
}

describe("one plaintext port for HTTP/1.1 and h2c", () => {
  it("serves HTTP/1.1 and h2c, and an h2c session keeps the socket's native handle", async () => {
    const port = await start();
    const res = await fetch(`http://127.0.0.1:${port}/x`);
    expect(await res.text()).toBe("1.1 -");
    const session = http2.connect(`http://127.0.0.1:${port}`);
    try {
      expect(await h2Get(port, session)).toBe("2.0 bound Socket");
      // Many requests on the session: the replayed preface did not desynchronise the framing.
      const bodies = await Promise.all(Array.from({ length: 20 }, () => h2Get(port, session)));
      expect(new Set(bodies)).toEqual(new Set(["2.0 bound Socket"]));
    } finally {
      session.close();
    }
  });

  it("waits for the whole preface when it arrives in pieces, and sends a near miss to HTTP/1.1", async () => {
    const port = await start();
    // "P" could begin the preface or "PUT": the second piece decides.
    const put = await raw(port, ["P", "UT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"]);
    expect(put).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(put).toContain("1.1 -");
    // The preface split in three, then the client's SETTINGS frame (empty): the server answers
    // with its own SETTINGS frame (type 4), as HTTP/2 and only HTTP/2 does.
    const emptySettings = "\x00\x00\x00\x04\x00\x00\x00\x00\x00";
    const h2 = await raw(port, [PREFACE.slice(0, 3), PREFACE.slice(3, 10), PREFACE.slice(10) + emptySettings]);
    expect(h2.charCodeAt(3)).toBe(4);
  });

  it("closes a connection that hangs up before sending a byte, and answers bytes that are no HTTP with 400", async () => {
    const port = await start();
    expect(await raw(port, [])).toBe("");
    const garbage = await raw(port, ["\x16\x03\x01\x00\x05hello\r\n\r\n"]);
    expect(garbage).toMatch(/^HTTP\/1\.1 400/);
    await new Promise((r) => setTimeout(r, 50));
    const open = await new Promise<number>((resolve, reject) => running?.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
    expect(open).toBe(0);
  });
});
