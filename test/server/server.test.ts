import { spawn } from "node:child_process";
import * as http2 from "node:http2";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { startTestHub, type TestHub } from "../support/hub.js";

const root = join(import.meta.dirname, "..", "..");

interface HealthClient extends grpc.Client {
  check(req: { service: string }, cb: (err: grpc.ServiceError | null, res?: { status: string }) => void): void;
}

function grpcHealthClient(port: number): HealthClient {
  const def = protoLoader.loadSync(join(root, "proto/grpc/health/v1/health.proto"), { enums: String });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { grpc: { health: { v1: { Health: new (a: string, c: grpc.ChannelCredentials) => HealthClient } } } };
  return new pkg.grpc.health.v1.Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}

function grpcCheck(client: HealthClient, service: string): Promise<string> {
  return new Promise((resolve, reject) => client.check({ service }, (err, res) => (err ? reject(err) : resolve(res!.status))));
}

describe("one port for gRPC, Connect, gRPC-Web and REST", () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub("pglite", { "grpc.agentPort": 0 });
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it("answers gRPC health over h2c from an independent gRPC client", async () => {
    const client = grpcHealthClient(hub.app.port);
    try {
      expect(await grpcCheck(client, "")).toBe("SERVING");
      expect(await grpcCheck(client, "agenthub.v1.AgentService")).toBe("SERVING");
      await expect(grpcCheck(client, "nope.Service")).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    } finally {
      client.close();
    }
  });

  it("answers the Connect protocol over HTTP/1.1 JSON", async () => {
    const res = await fetch(`${hub.url}/grpc.health.v1.Health/Check`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "SERVING" });
  });

  it("answers gRPC-Web and Connect clients", async () => {
    for (const transport of [
      createGrpcWebTransport({ baseUrl: hub.url, httpVersion: "1.1" }),
      createConnectTransport({ baseUrl: hub.url, httpVersion: "2" }),
    ]) {
      const res = await createClient(Health, transport).check({ service: "" });
      expect(res.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    }
  });

  it("answers unknown REST paths with JSON 404 on the same port", async () => {
    const res = await fetch(`${hub.url}/no/such/path`);
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toMatch(/application\/json/);
    expect(await res.json()).toMatchObject({ code: "not_found" });
  });

  it("serves agents' gRPC on the dedicated h2c port when grpc.agentPort is set", async () => {
    expect(hub.app.agentPort).toBeGreaterThan(0);
    expect(hub.app.agentPort).not.toBe(hub.app.port);
    const client = grpcHealthClient(hub.app.agentPort!);
    try {
      expect(await grpcCheck(client, "agenthub.v1.AgentService")).toBe("SERVING");
    } finally {
      client.close();
    }
  });

  it("does not serve REST on the agent port", async () => {
    const session = http2.connect(`http://127.0.0.1:${hub.app.agentPort}`);
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const req = session.request({ ":path": "/armory/accounts", ":method": "GET" });
        req.on("response", (h) => resolve(Number(h[":status"])));
        req.on("error", reject);
        req.end();
      });
      expect(status).toBe(404);
    } finally {
      session.close();
    }
  });
});

describe("process life", () => {
  it("exits 1 at start with a message naming a bad configuration key", async () => {
    const child = spawn(process.execPath, [join(root, "node_modules/tsx/dist/cli.mjs"), join(root, "src/cli/main.ts"), "serve"], {
      env: { ...process.env, AGENT_HUB_HEARTBEAT_INTERVAL: "soon", PORT: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).toBe(1);
    expect(stderr).toContain("heartbeat.interval");
  });

  it("shuts down cleanly on SIGTERM: stops accepting and exits 0", async () => {
    const dataDir = join(root, ".vitest-tmp", `sigterm-${process.pid}`);
    const child = spawn(process.execPath, [join(root, "node_modules/tsx/dist/cli.mjs"), join(root, "src/cli/main.ts"), "serve"], {
      env: { ...process.env, DATABASE_URL: "", PORT: "0", AGENT_HUB_DATA_DIR: dataDir, AGENT_HUB_HOST: "127.0.0.1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => {
        stdout += d.toString();
        const m = stdout.match(/"port":(\d+)/);
        if (m) resolve(Number(m[1]));
      });
      child.on("exit", (c) => reject(new Error(`exited ${c} before listening`)));
    });
    const ok = await fetch(`http://127.0.0.1:${port}/grpc.health.v1.Health/Check`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(ok.status).toBe(200);
    child.kill("SIGTERM");
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).toBe(0);
    expect(stdout).toContain("shutting down");
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
  });
});
