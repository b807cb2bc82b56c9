import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { AgentPoolOptions, EventBatch, KilledAgent } from "./agent-pool.js";
import { mergeLoadResults, type LoadResult } from "./load-generator.js";
import type { OpsRunOptions } from "./ops-driver.js";
import { tsxExecArgv } from "./tsx-args.js";
import { createWorkerHost } from "./worker-host.js";
import type { FromWorker, ToWorker } from "./worker-protocol.js";

/** The coordinator's handle on all workers. */
export interface WorkerFleet {
  /** Which worker plays which agent index range. */
  readonly shares: { first: number; count: number }[];
  kill(agentIds: string[]): Promise<KilledAgent[]>;
  bounce(agentId: string, downtimeMs: number): void;
  /** Runs operations split evenly over the workers (each gets rate/W and concurrency/W). */
  runOps(options: OpsRunOptions): Promise<LoadResult>;
  stop(): Promise<void>;
  /** Worker process ids (none in-process). */
  pids(): number[];
}

export interface FleetOptions {
  /** Worker processes; 0 runs the agents in this process (tests, small runs). */
  workers: number;
  /** `targets` are the hub's replicas: worker w's agents dial targets[w mod N] first. */
  pool: Omit<AgentPoolOptions, "first" | "count" | "firstTarget">;
  /** A worker's agents begin dialing (after its process has started). */
  onDialing(at: number): void;
  onEvents(batch: EventBatch): void;
  onFailure(message: string): void;
}

interface Channel {
  send(message: ToWorker): void;
  pid: number | undefined;
  /** Ends a worker process that did not stop in time (no-op in-process). */
  kill(): void;
}

/** A worker whose agents have not all stopped within this long is killed, so a run always ends. */
const STOP_TIMEOUT_MS = 60_000;

const workerEntry = fileURLToPath(new URL("./worker.ts", import.meta.url));

function forkWorker(onMessage: (m: FromWorker) => void, onExit: (code: number | null) => void): Channel {
  // tsx as an import hook runs the TypeScript entry directly; the large semi-space keeps GC
  // pauses short under the allocation rate of thousands of streams.
  const child: ChildProcess = fork(workerEntry, [], { execArgv: [...tsxExecArgv(), "--max-semi-space-size=32"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  child.on("message", (m: FromWorker) => onMessage(m));
  child.on("exit", (code) => onExit(code));
  // A worker that died is reported through onExit; sending to it must not throw as well.
  return { send: (m) => void (child.connected && child.send(m)), pid: child.pid, kill: () => child.kill("SIGKILL") };
}

function inProcess(onMessage: (m: FromWorker) => void): Channel {
  // Replies go through a microtask so both modes deliver asynchronously, as IPC does.
  const host = createWorkerHost(
    (m) => queueMicrotask(() => onMessage(m)),
    () => {},
  );
  return { send: (m) => host.handle(m), pid: undefined, kill: () => {} };
}

/** Splits `total` agents over `workers` shares as evenly as possible. */
export function splitShares(total: number, workers: number): { first: number; count: number }[] {
  const n = Math.max(1, Math.min(workers, total));
  return Array.from({ length: n }, (_, w) => {
    const first = Math.floor((w * total) / n);
    return { first, count: Math.floor(((w + 1) * total) / n) - first };
  });
}

/** Starts the workers and their agents (they begin dialing at once). */
export function startFleet(options: FleetOptions): WorkerFleet {
  const shares = splitShares(options.pool.topology.agents, options.workers);
  const pending = new Map<number, (m: FromWorker) => void>();
  let nextId = 1;
  let stopping = false;
  const onMessage = (m: FromWorker) => {
    if (m.type === "events") options.onEvents(m.batch);
    else if (m.type === "dialing") options.onDialing(m.at);
    else if (m.type === "failed") options.onFailure(m.message);
    else {
      const resolve = pending.get(m.id);
      pending.delete(m.id);
      resolve?.(m);
    }
  };
  const channels = shares.map(() =>
    options.workers === 0
      ? inProcess(onMessage)
      : forkWorker(onMessage, (code) => {
          if (!stopping) options.onFailure(`a simulator worker exited unexpectedly (code ${code})`);
        }),
  );
  shares.forEach((share, w) => channels[w]!.send({ type: "start", pool: { ...options.pool, ...share, firstTarget: w % options.pool.targets.length } }));
  const request = (channel: Channel, build: (id: number) => ToWorker) =>
    new Promise<FromWorker>((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      channel.send(build(id));
    });
  const owner = (agentIndex: number) => shares.findIndex((s) => agentIndex >= s.first && agentIndex < s.first + s.count);
  const indexOf = (agentId: string) => Number(/(\d+)$/.exec(agentId)?.[1] ?? -1);

  return {
    shares,
    async kill(agentIds) {
      const byWorker = new Map<number, string[]>();
      for (const id of agentIds) {
        const w = owner(indexOf(id));
        if (w >= 0) byWorker.set(w, [...(byWorker.get(w) ?? []), id]);
      }
      const replies = await Promise.all([...byWorker].map(([w, ids]) => request(channels[w]!, (id) => ({ type: "kill", id, agentIds: ids }))));
      return replies.flatMap((r) => (r.type === "killed" ? r.killed : []));
    },
    bounce(agentId, downtimeMs) {
      const w = owner(indexOf(agentId));
      if (w >= 0) channels[w]!.send({ type: "bounce", agentId, downtimeMs });
    },
    async runOps(ops) {
      const n = channels.length;
      const replies = await Promise.all(
        channels.map((c) =>
          request(c, (id) => ({
            type: "ops",
            id,
            options: { ...ops, ratePerSec: ops.ratePerSec / n, concurrency: Math.max(1, Math.round(ops.concurrency / n)) },
          })),
        ),
      );
      return mergeLoadResults(replies.flatMap((r) => (r.type === "opsDone" ? [r.result] : [])));
    },
    async stop() {
      stopping = true;
      await Promise.all(
        channels.map(async (c) => {
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([
            request(c, (id) => ({ type: "stop", id })),
            new Promise<void>((resolve) => (timer = setTimeout(() => (c.kill(), resolve()), STOP_TIMEOUT_MS))),
          ]);
          clearTimeout(timer);
        }),
      );
    },
    pids: () => channels.flatMap((c) => (c.pid === undefined ? [] : [c.pid])),
  };
}
