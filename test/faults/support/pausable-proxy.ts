import { createServer, connect, type AddressInfo, type Server, type Socket } from "node:net";

/**
 * A TCP proxy in front of the hub whose hub-facing sockets can stop reading: what the hub writes
 * then piles up in kernel buffers and the hub's writes stop draining, as with an agent process
 * that hangs (gRPC clients acknowledge HTTP/2 data as it arrives, so pausing one does not do it).
 */
export interface PausableProxy {
  /** host:port for agents. */
  target: string;
  /** Stops reading what the hub sends, on every connection. */
  stopReading(): void;
  /** Reads again: what the hub wrote meanwhile reaches the agents. */
  resumeReading(): void;
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1, port 0, to `port`. */
export async function startPausableProxy(port: number): Promise<PausableProxy> {
  const pairs: { client: Socket; upstream: Socket }[] = [];
  let paused = false;
  const server: Server = createServer((client) => {
    const upstream = connect(port, "127.0.0.1");
    client.pipe(upstream);
    upstream.pipe(client);
    for (const s of [client, upstream]) s.on("error", () => {});
    client.once("close", () => upstream.destroy());
    upstream.once("close", () => client.destroy());
    pairs.push({ client, upstream });
    if (paused) upstream.pause();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    target: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    stopReading() {
      paused = true;
      for (const { upstream } of pairs) {
        upstream.unpipe();
        upstream.pause();
      }
    },
    resumeReading() {
      paused = false;
      for (const { client, upstream } of pairs) {
        upstream.pipe(client);
        upstream.resume();
      }
    },
    async close() {
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
