import { fork } from "node:child_process";
import { openSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { HistogramData } from "./histogram.js";
import type { DatabaseWork, FromHub, LoopDelay, ToHub } from "./hub-protocol.js";
import { tsxExecArgv } from "./tsx-args.js";

/** A hub the simulator started in a child process. */
export interface LocalHub {
  pid: number;
  /** The port serving REST (and everything else). */
  url: string;
  /** The dedicated h2c agent port. */
  agentUrl: string;
  /** Times `text` `repeat` times on the hub's own database connection. */
  timeSql(text: string, repeat: number): Promise<{ latency: HistogramData; rows: number }>;
  /** The hub's event-loop delay and database work since the previous call. */
  loopDelay(): Promise<LoopDelay & { work: DatabaseWork }>;
  stop(): Promise<void>;
}

export interface LocalHubOptions {
  /** Configuration keys by path (design section 12), on top of the simulator's defaults. */
  overrides: Record<string, unknown>;
  /** Where the hub's JSON log goes; discarded when undefined. */
  logFile: string | undefined;
  /** Write a V8 CPU profile of the hub into this directory when it stops. */
  profileDir?: string | undefined;
}

const entry = fileURLToPath(new URL("./hub-process.ts", import.meta.url));

/**
 * Starts a hub on 127.0.0.1 with ports chosen by the OS, an in-memory PGlite unless overridden,
 * and the dedicated agent port on (what README recommends for production, so that is what the
 * simulator measures).
 */
export async function startLocalHub(options: LocalHubOptions): Promise<LocalHub> {
  const overrides = {
    port: 0,
    host: "127.0.0.1",
    "grpc.agentPort": 0,
    databaseUrl: "",
    dataDir: "memory://",
    "log.level": "warn",
    ...options.overrides,
  };
  const out = options.logFile === undefined ? "ignore" : openSync(options.logFile, "a");
  const child = fork(entry, [], {
    execArgv: [...tsxExecArgv(), ...(options.profileDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${options.profileDir}`])],
    env: { ...process.env, SIM_HUB_OVERRIDES: JSON.stringify(overrides) },
    stdio: ["ignore", out, "inherit", "ipc"],
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const pending = new Map<number, (m: FromHub) => void>();
  let nextId = 1;
  const listening = new Promise<{ port: number; agentPort: number | undefined }>((resolve, reject) => {
    child.on("message", (m: FromHub) => {
      if (m.type === "listening") resolve(m);
      else {
        pending.get(m.id)?.(m);
        pending.delete(m.id);
      }
    });
    void exited.then((code) => reject(new Error(`the local hub exited with code ${code} before listening`)));
  });
  const { port, agentPort } = await listening;
  const send = (m: ToHub) => child.send(m);
  return {
    pid: child.pid!,
    url: `http://127.0.0.1:${port}`,
    agentUrl: `http://127.0.0.1:${agentPort ?? port}`,
    timeSql(text, repeat) {
      return new Promise((resolve, reject) => {
        const id = nextId++;
        pending.set(id, (m) => {
          if (m.type === "sqlDone") resolve({ latency: m.latency, rows: m.rows });
          else if (m.type === "sqlFailed") reject(new Error(`raw SQL failed: ${m.message}`));
        });
        send({ type: "sql", id, text, repeat });
      });
    },
    loopDelay() {
      return new Promise((resolve) => {
        const id = nextId++;
        pending.set(id, (m) => {
          if (m.type === "loopDelay") resolve({ ...m.delay, work: m.work });
        });
        send({ type: "loop", id });
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        send({ type: "stop" });
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
