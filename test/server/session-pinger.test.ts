import * as http2 from "node:http2";
import * as net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createSessionPinger, type SessionPinger } from "../../src/server/session-pinger.js";
import { createManualClock, type ManualClock } from "../support/manual-clock.js";

let cutAll = false;
const proxies: net.Server[] = [];

/** A TCP relay that can start dropping every byte: a half-open connection, as a dead peer leaves. */
async function blackholeProxy(target: number): Promise<{ port: number }> {
  const proxy = net.createServer((inbound) => {
    const outbound = net.connect(target, "127.0.0.1");
    inbound.on("data", (d) => cutAll || outbound.write(d));
    outbound.on("data", (d) => cutAll || inbound.write(d));
    inbound.on("error", () => outbound.destroy());
    outbound.on("error", () => inbound.destroy());
    inbound.on("close", () => outbound.destroy());
    outbound.on("close", () => inbound.destroy());
  });
  proxies.push(proxy);
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  return { port: (proxy.address() as net.AddressInfo).port };
}

describe("createSessionPinger", () => {
  let server: http2.Http2Server | undefined;
  let pinger: SessionPinger | undefined;
  let clock: ManualClock;
  afterEach(async () => {
    cutAll = false;
    for (const p of proxies.splice(0)) p.close();
    pinger?.stop();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  async function serveLongRequest(intervalMs: number) {
    clock = createManualClock();
    pinger = createSessionPinger(intervalMs, clock);
    const ended: Promise<void>[] = [];
    let resolveEnded: () => void = () => {};
    ended.push(new Promise<void>((r) => (resolveEnded = r)));
    server = http2.createServer((req, res) => {
      pinger!.watch(req);
      res.writeHead(200);
      res.write("open");
      res.once("close", () => resolveEnded());
    });
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    const client = http2.connect(`http://127.0.0.1:${(await blackholeProxy((server.address() as net.AddressInfo).port)).port}`);
    const stream = client.request({ ":path": "/" });
    stream.on("error", () => {});
    client.on("error", () => {});
    await new Promise<void>((resolve) => stream.once("response", () => resolve()));
    return { client, stream, ended: ended[0]!, cut: () => (cutAll = true) };
  }

  it("keeps a session whose peer answers PINGs", async () => {
    const { client, ended } = await serveLongRequest(50);
    let closed = false;
    void ended.then(() => (closed = true));
    // Eight rounds of PINGs, each answered before the next round judges it.
    await clock.advance(400);
    expect(closed).toBe(false);
    client.destroy();
    await ended;
  });

  it("destroys a session whose peer stops answering (half-open connection)", async () => {
    const { client, ended, cut } = await serveLongRequest(50);
    cut();
    // One round sends a PING that gets no answer, the next one cuts the session.
    await clock.advance(100);
    await ended;
    client.destroy();
  });
});
