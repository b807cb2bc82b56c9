import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createReadiness } from "../../src/server/readiness.js";
import { openDatabase, type Database } from "../../src/store/database.js";
import { startHubOn } from "../hub/support/custom-hub.js";
import { eventually } from "../support/eventually.js";
import { createManualClock } from "../support/manual-clock.js";
import { connectTestAgent } from "../hub/support/test-agent.js";
import type { HubApp } from "../../src/server/app.js";
import { openTestDatabase, POSTGRES_URL } from "../support/databases.js";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";

const root = join(fileURLToPath(import.meta.url), "../../..");

type HealthClient = grpc.Client & {
  Check(req: { service: string }, cb: (err: grpc.ServiceError | null, res?: { status: string }) => void): void;
  Watch(req: { service: string }): grpc.ClientReadableStream<{ status: string }>;
};

/** grpc.health.v1 Check from an independent client (grpc-js over the vendored proto). */
function grpcHealth(port: number): { check(): Promise<string>; watch(seen: string[]): () => void; close(): void } {
  const def = protoLoader.loadSync(join(root, "proto/grpc/health/v1/health.proto"), { enums: String });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { grpc: { health: { v1: { Health: new (a: string, c: grpc.ChannelCredentials) => HealthClient } } } };
  const client = new pkg.grpc.health.v1.Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return {
    check: () => new Promise((resolve, reject) => client.Check({ service: "" }, (err, res) => (err ? reject(err) : resolve(res!.status)))),
    watch(seen) {
      const call = client.Watch({ service: "agenthub.v1.AgentService" });
      call.on("data", (r: { status: string }) => seen.push(r.status));
      call.on("error", () => {});
      return () => call.cancel();
    },
    close: () => client.close(),
  };
}

async function status(url: string): Promise<{ status: number; body: { status: string; reason?: string } }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as { status: string; reason?: string } };
}

describe("probes while PostgreSQL does not answer (a frozen TCP proxy in front of it)", () => {
  let proxy: TcpProxy;
  let database: Database;
  let app: HubApp;
  // Heartbeats, PINGs, lease renewal and the health Watch's polls keep to this clock.
  const clock = createManualClock();
  const schema = `t_ready_${randomBytes(4).toString("hex")}`;
  beforeAll(async () => {
    proxy = await startTcpProxy(Number(new URL(POSTGRES_URL).port || 5432), new URL(POSTGRES_URL).hostname);
    const url = new URL(POSTGRES_URL);
    url.host = `127.0.0.1:${proxy.port}`;
    database = await openDatabase({ url: url.toString(), schema, maxConnections: 4 });
    // A lease much longer than the outage: this is the "database does not answer" case, not "lease lost".
    app = await startHubOn(database, { "hub.leaseTtl": "30s", "grpc.agentPort": 0 }, clock);
  });
  afterAll(async () => {
    proxy?.thaw();
    await app?.close();
    await database?.close();
    await proxy?.close();
    const admin = postgres(POSTGRES_URL, { max: 1, onnotice: () => {} });
    await admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });

  it("/readyz and grpc.health say NOT_SERVING, /healthz stays 200 and agent streams stay open; all is back when it answers", async () => {
    const base = `http://127.0.0.1:${app.port}`;
    const health = grpcHealth(app.port);
    const agentPortHealth = grpcHealth(app.agentPort!);
    const agent = connectTestAgent({ target: `127.0.0.1:${app.agentPort}`, agentId: "ready-1", zoneId: "r", clock });
    let ended = false;
    void agent.ended.then(() => (ended = true));
    const watched: string[] = [];
    const stopWatch = health.watch(watched);
    try {
      await agent.waitFor("welcome");
      await eventually(() => expect(watched).toEqual(["SERVING"]));
      expect(await status(`${base}/readyz`)).toEqual({ status: 200, body: { status: "ready" } });
      expect(await health.check()).toBe("SERVING");

      proxy.freeze();
      const down = await status(`${base}/readyz`);
      expect(down.status).toBe(503);
      expect(down.body.reason).toMatch(/database did not answer/);
      expect(await health.check()).toBe("NOT_SERVING");
      expect(await agentPortHealth.check()).toBe("NOT_SERVING");
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      // Several heartbeat intervals (200 ms) pass, with the writes of last_heartbeat hanging: the agent is not cut off.
      await clock.advance(1_000);
      expect(ended).toBe(false);
      // The Watch looked again meanwhile (once a second): its readiness check gives up on the database.
      await eventually(() => expect(watched).toEqual(["SERVING", "NOT_SERVING"]));

      proxy.thaw();
      await eventually(async () => expect((await status(`${base}/readyz`)).status).toBe(200));
      expect(await health.check()).toBe("SERVING");
      // Watch streamed both changes (it looks again once a second).
      await eventually(async () => {
        await clock.advance(1_000);
        expect(watched).toEqual(["SERVING", "NOT_SERVING", "SERVING"]);
      });
      expect(ended).toBe(false);
      const agents = (await (await fetch(`${base}/armory/agents`)).json()) as { agentId: string }[];
      expect(agents.map((a) => a.agentId)).toEqual(["ready-1"]);
    } finally {
      stopWatch();
      health.close();
      agentPortHealth.close();
      agent.close();
    }
  });
});

describe("readiness", () => {
  it("is not ready while the lease is not held, nor once shutdown began, though the database answers", async () => {
    const database = await openTestDatabase("postgres");
    try {
      let lease = true;
      const shutdown = new AbortController();
      const readiness = createReadiness({ database, leaseHeld: () => lease, shutdown: shutdown.signal });
      expect(await readiness.check()).toEqual({ ready: true, reason: "" });
      lease = false;
      expect(await readiness.check()).toEqual({ ready: false, reason: "this replica does not hold its lease" });
      lease = true;
      shutdown.abort();
      expect(await readiness.check()).toEqual({ ready: false, reason: "the hub is shutting down" });
    } finally {
      await database.close();
      await database.dropSchema();
    }
  });
});
