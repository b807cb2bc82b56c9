import { createConnection, createServer, type Socket } from "node:net";

/** A TCP proxy that can stop passing bytes, to play a database that does not answer. */
export interface TcpProxy {
  port: number;
  /** Stops reading from both sides of every connection (new ones too): requests go unanswered, nothing is cut. */
  freeze(): void;
  /** Passes bytes again; what was held back is delivered. */
  thaw(): void;
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1 (port 0) to `host:port`. */
export async function startTcpProxy(port: number, host = "127.0.0.1"): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let frozen = false;
  const server = createServer((client) => {
    const upstream = createConnection({ port, host });
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      sockets.add(a);
      // Not pipe(): pipe resumes a paused source when the other side drains.
      a.on("data", (chunk: Buffer) => b.write(chunk));
      a.on("error", () => b.destroy());
      a.on("close", () => {
        sockets.delete(a);
        b.destroy();
      });
      if (frozen) a.pause();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("proxy has no port");
  return {
    port: address.port,
    freeze() {
      frozen = true;
      for (const s of sockets) s.pause();
    },
    thaw() {
      frozen = false;
      for (const s of sockets) s.resume();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
