import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { POSTGRES_URL } from "../../support/databases.js";

/** A hub replica running as a child process of the test, on port 0. */
export interface ReplicaProcess {
  hubId: string;
  port: number;
  url: string;
  /** host:port for agents. */
  target: string;
  /** Every log line the replica wrote, parsed (JSON lines only). */
  readonly logs: Record<string, unknown>[];
  /** The end of what it wrote to stderr, and how it exited (undefined while it runs), for failure messages. */
  diagnostics(): { stderr: string; exit: string | undefined };
  /** kill -9: no shutdown, no release; the lease has to run out. */
  kill(): Promise<void>;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
}

/** Short timers, so that the fault scenarios run in seconds. */
export const REPLICA_ENV = {
  AGENT_HUB_HUB_HEARTBEAT_INTERVAL: "200ms",
  AGENT_HUB_HUB_LEASE_TTL: "1500ms",
  AGENT_HUB_HEARTBEAT_INTERVAL: "500ms",
  AGENT_HUB_DYNAMIC_ACCOUNTS_RETRY_FREQUENCY: "300ms",
  AGENT_HUB_OPERATION_TIMEOUT: "10s",
};

/**
 * tsx as a loader in the hub's own process: tsx's CLI would run the hub in a grandchild, and a
 * kill -9 of the CLI would leave the hub running.
 */
const CLI = ["--import", "tsx", "src/cli/main.ts", "serve"];

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/**
 * Spawns `agent-hub serve` on PostgreSQL in the test's schema and resolves once it logs
 * "agent-hub listening" with its port.
 */
export async function startReplica(hubId: string, schema: string, env: Record<string, string> = {}): Promise<ReplicaProcess> {
  const child = spawn(process.execPath, CLI, {
    cwd: process.cwd(),
    env: {
      PATH: process.env.PATH ?? "",
      DATABASE_URL: POSTGRES_URL,
      PORT: "0",
      AGENT_HUB_HOST: "127.0.0.1",
      AGENT_HUB_HUB_ID: hubId,
      AGENT_HUB_DATABASE_SCHEMA: schema,
      AGENT_HUB_LOG_LEVEL: "info",
      ...REPLICA_ENV,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const port = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      logs.push(entry);
      if (entry.msg === "agent-hub listening" && typeof entry.port === "number") resolve(entry.port);
    });
    child.once("exit", (code, signal) => reject(new Error(`replica ${hubId} exited before listening (${code ?? signal}): ${stderr}`)));
  });
  return {
    hubId,
    port,
    url: `http://127.0.0.1:${port}`,
    target: `127.0.0.1:${port}`,
    logs,
    diagnostics: () => ({ stderr, exit: child.exitCode !== null || child.signalCode !== null ? String(child.exitCode ?? child.signalCode) : undefined }),
    async kill() {
      child.kill("SIGKILL");
      await exited(child);
    },
    async stop() {
      child.kill("SIGTERM");
      await exited(child);
    },
  };
}
