import { createConnection, createServer, type Server, type Socket } from "node:net";

/** A TCP proxy in front of PostgreSQL that a test can cut off like a failed network. */
export interface TcpProxy {
  port: number;
  /**
   * From now on nothing passes: open connections stay open but every byte is dropped, and new
   * connections are accepted but never reach PostgreSQL — what a network partition looks like
   * (no reset, statements simply never answer).
   */
  cut(): void;
  /**
   * Ends the proxy's connections to PostgreSQL (the partition stays for the replica): what the
   * server's TCP keepalive does in time to the sessions of a replica it can no longer reach, so
   * that their row locks go.
   */
  dropUpstream(): void;
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1 forwarding to `target`. */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let cut = false;
  const sockets = new Set<Socket>();
  const upstreams = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => s.destroy());
  };
  const server: Server = createServer((client) => {
    track(client);
    if (cut) {
      client.on("data", () => {});
      return;
    }
    const upstream = createConnection(target);
    track(upstream);
    upstreams.add(upstream);
    upstream.on("close", () => upstreams.delete(upstream));
    const forward = (from: Socket, to: Socket) =>
      from.on("data", (chunk: Buffer) => {
        if (!cut) to.write(chunk);
      });
    forward(client, upstream);
    forward(upstream, client);
    // A partition passes no close either: PostgreSQL ending a session (say, after
    // idle_in_transaction_session_timeout) is not seen by the replica once the proxy is cut.
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => {
      if (!cut) client.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("proxy has no port");
  return {
    port: address.port,
    cut() {
      cut = true;
    },
    dropUpstream() {
      for (const s of upstreams) s.destroy();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
