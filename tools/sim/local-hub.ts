import { spawn } from "node:child_process";
import { mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { wallNow } from "./clock.js";

/** Event-loop delay of the hub over a phase, ms. */
export interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
}

/** Statements (and NOTIFYs among them) the hub sent to its database over a phase. */
export interface DatabaseWork {
  statements: number;
  notifies: number;
  ms: number;
}

/** A hub the simulator started as a child process, through the production command. */
export interface LocalHub {
  pid: number;
  /** The port serving REST (and everything else). */
  url: string;
  /** The dedicated h2c agent port. */
  agentUrl: string;
  /** The hub's event-loop delay and database work since the previous call, read from `/metrics`. */
  loopDelay(): Promise<LoopDelay & { work: DatabaseWork }>;
  /** False once the process has exited. */
  alive(): boolean;
  /** `kill -9`: the process dies at once, with no shutdown (design section 11, a replica's death). */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export interface LocalHubOptions {
  /** Configuration keys by path (design section 12), on top of the simulator's defaults. */
  overrides: Record<string, unknown>;
  /** Where the hub's JSON log goes; discarded when undefined. */
  logFile: string | undefined;
  /** Write a V8 CPU profile of the hub into this directory when it stops. */
  profileDir?: string | undefined;
  /** Node.js flags for the hub's process, before the command. */
  nodeOptions?: readonly string[];
}

/** The published command (`agent-hub`), so the simulator depends on nothing inside src/. */
const command = fileURLToPath(new URL("../../bin/agent-hub.js", import.meta.url));
const READY_TIMEOUT_MS = 120_000;

/** A port the OS has just handed out on 127.0.0.1 (free again when this resolves). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** The value of one Prometheus sample line `name{labels} value`, or undefined. */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith(series + " ")) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

/**
 * Starts `agent-hub serve` on 127.0.0.1 with an in-memory PGlite unless overridden and the
 * dedicated agent port on (what README recommends for production, so that is what the simulator
 * measures). The configuration goes in as a file (JSON is YAML), ports are chosen here, and
 * everything the simulator reads afterwards comes over the network: REST, `/readyz`, `/metrics`.
 */
export async function startLocalHub(options: LocalHubOptions): Promise<LocalHub> {
  const [port, agentPort] = [await freePort(), await freePort()];
  const overrides = {
    port,
    host: "127.0.0.1",
    "grpc.agentPort": agentPort,
    databaseUrl: "",
    dataDir: "memory://",
    "log.level": "warn",
    "metrics.enabled": true,
    ...options.overrides,
  };
  const dir = mkdtempSync(join(tmpdir(), "agent-hub-sim-"));
  const configFile = join(dir, "config.yaml");
  writeFileSync(configFile, JSON.stringify(overrides));
  const out = options.logFile === undefined ? "ignore" : openSync(options.logFile, "a");
  // Keys the simulator sets must not be overridden by an AGENT_HUB_* or DATABASE_URL of the shell.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("AGENT_HUB_") && k !== "DATABASE_URL" && k !== "PORT"));
  const profile = options.profileDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${options.profileDir}`];
  const child = spawn(process.execPath, [...profile, ...(options.nodeOptions ?? []), command, "serve", "--config", configFile], { env, stdio: ["ignore", out, "inherit"] });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  // The hub has no IPC channel to notice the simulator's end: a simulator that dies takes it along.
  const orphaned = () => child.kill("SIGKILL");
  process.once("exit", orphaned);
  let gone = false;
  void exited.then(() => {
    gone = true;
    process.off("exit", orphaned);
    rmSync(dir, { recursive: true, force: true });
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = wallNow() + READY_TIMEOUT_MS;
  for (;;) {
    if (gone) throw new Error(`the local hub exited with code ${String(child.exitCode)} before it was ready`);
    const ready = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (wallNow() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`the local hub was not ready within ${READY_TIMEOUT_MS} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const counts = async () => {
    const text = await (await fetch(`${url}/metrics`)).text();
    const seconds = (q: string) => Math.round((sample(text, `agenthub_event_loop_delay_seconds{quantile="${q}"}`) ?? 0) * 10_000) / 10;
    return {
      delay: { p50: seconds("0.5"), p99: seconds("0.99"), max: seconds("1") },
      statements: sample(text, "agenthub_database_statements_total") ?? 0,
      notifies: sample(text, "agenthub_database_notifies_total") ?? 0,
      at: wallNow(),
    };
  };
  // The first scrape starts the event-loop window and the counters' baseline.
  let counted = await counts();
  return {
    pid: child.pid!,
    url,
    agentUrl: `http://127.0.0.1:${agentPort}`,
    async loopDelay() {
      const now = await counts();
      const work = { statements: now.statements - counted.statements, notifies: now.notifies - counted.notifies, ms: now.at - counted.at };
      counted = now;
      return { ...now.delay, work };
    },
    alive: () => !gone,
    async kill() {
      if (!gone) {
        child.kill("SIGKILL");
        await exited;
      }
    },
    async stop() {
      if (!gone) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
