/**
 * The ceiling's client: opens S streams to the echo server (each its own HTTP/2 connection, as
 * agents do), then measures round trips with the message sizes of the hub's paths. Run as a child
 * process with a JSON job in argv[2]; prints one JSON result line.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { AgentService, Outcome, type ConnectRequestSchema, type ConnectResponse } from "../gen/agenthub/v1/agent_pb.js";
import { wallNow } from "../tools/sim/clock.js";
import { createHistogram, type HistogramData } from "../tools/sim/histogram.js";
import { runLoad, type LoadResult } from "../tools/sim/load-generator.js";
import { createMessageQueue } from "../tools/sim/message-queue.js";
import { defaultOperationPayload } from "../tools/sim/ops-driver.js";
import { createGate } from "../tools/sim/dial-gate.js";

/** What the parent asks of one client process. */
export interface EchoJob {
  url: string;
  streams: number;
  /** Agent ids of this process start here (unique over all client processes). */
  firstId: number;
  /** Round-trip runs, in order; each with its own rate, concurrency and duration. */
  runs: { kind: "operation" | "assignment"; ratePerSec: number; concurrency: number; durationMs: number }[];
  /** Keep the streams open this long after the runs (the parent reads the server's RSS meanwhile). */
  holdMs: number;
}

/** What one client process measured. */
export interface EchoResult {
  connectMs: number;
  connectLatency: HistogramData;
  /** Dials that failed and were redialed, by error. */
  redials: Record<string, number>;
  runs: LoadResult[];
}

type Req = MessageInitShape<typeof ConnectRequestSchema>;

interface EchoStream {
  send(m: Req): void;
  waiters: Map<string, () => void>;
  close(): void;
}

/** Dials in flight per client process, as many as a simulator worker allows its agents. */
const DIAL_CONCURRENCY = 200;
/** A dial not welcomed within this long is abandoned and redialed. */
const DIAL_TIMEOUT_MS = 30_000;
/** Wait before redialing a failed stream, as the simulated agents do. */
const REDIAL_DELAY_MS = 1_000;

/** One dial: resolves at welcome; rejects when the stream ends first or no welcome comes in time. */
async function dialOnce(url: string, id: number, connectLatency: ReturnType<typeof createHistogram>): Promise<EchoStream> {
  const manager = new Http2SessionManager(url);
  const client = createClient(AgentService, createGrpcTransport({ baseUrl: url, sessionManager: manager }));
  const queue = createMessageQueue<Req>();
  const waiters = new Map<string, () => void>();
  const started = wallNow();
  let welcomed: () => void = () => {};
  let failed: (err: Error) => void = () => {};
  const welcome = new Promise<void>((resolve, reject) => ((welcomed = resolve), (failed = reject)));
  queue.push({ msg: { case: "hello", value: { agentId: `echo-${id}`, zoneId: "zone-0" } } });
  const keyOf = (res: ConnectResponse) => (res.msg.case === "operation" ? res.msg.value.operationId : res.requestId);
  const reading = (async () => {
    for await (const res of client.connect(queue)) {
      if (res.msg.case === "welcome") {
        connectLatency.record(wallNow() - started);
        welcomed();
        continue;
      }
      const key = keyOf(res);
      const w = waiters.get(key);
      waiters.delete(key);
      w?.();
    }
  })();
  // After welcome, a stream that fails shows as missing answers; before it, the dial is retried.
  reading.then(
    () => failed(new Error("stream ended before welcome")),
    (err: unknown) => failed(err instanceof Error ? err : new Error(String(err))),
  );
  const timer = setTimeout(() => failed(new Error("no welcome in time")), DIAL_TIMEOUT_MS);
  const close = () => (queue.close(), manager.abort());
  try {
    await welcome;
  } catch (err) {
    close();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return { send: (m) => queue.push(m), waiters, close };
}

/**
 * Opens one stream the way the simulated agents do: at most DIAL_CONCURRENCY dials in flight,
 * a failed dial redialed after a pause (thousands of simultaneous dials overflow the listen
 * backlog, and one lost dial used to hold the whole ceiling run forever).
 */
async function openStream(url: string, id: number, connectLatency: ReturnType<typeof createHistogram>, gate: () => Promise<() => void>, redials: Record<string, number>): Promise<EchoStream> {
  for (;;) {
    const release = await gate();
    try {
      return await dialOnce(url, id, connectLatency);
    } catch (err) {
      const kind = err instanceof Error ? err.message.slice(0, 60) : "unknown";
      redials[kind] = (redials[kind] ?? 0) + 1;
    } finally {
      release();
    }
    await new Promise((resolve) => setTimeout(resolve, REDIAL_DELAY_MS));
  }
}

async function main(job: EchoJob): Promise<void> {
  const connectLatency = createHistogram();
  const t0 = wallNow();
  const gate = createGate(DIAL_CONCURRENCY);
  const redials: Record<string, number> = {};
  const streams = await Promise.all(Array.from({ length: job.streams }, (_, i) => openStream(job.url, job.firstId + i, connectLatency, gate, redials)));
  const connectMs = wallNow() - t0;
  const payload = defaultOperationPayload();
  const runs: LoadResult[] = [];
  for (const run of job.runs) {
    runs.push(
      await runLoad({
        ratePerSec: run.ratePerSec,
        concurrency: run.concurrency,
        durationMs: run.durationMs,
        call(seq) {
          const stream = streams[seq % streams.length]!;
          const key = String(seq);
          const answered = new Promise<undefined>((resolve) => stream.waiters.set(key, () => resolve(undefined)));
          stream.send(
            run.kind === "operation"
              ? { msg: { case: "operationResult", value: { operationId: key, outcome: Outcome.OK, result: { agentId: "echo", echo: payload } } } }
              : { msg: { case: "accountResult", value: { requestId: key, accountName: "dyn-0", outcome: Outcome.OK } } },
          );
          return answered;
        },
      }),
    );
  }
  process.stdout.write(`${JSON.stringify({ connectMs, connectLatency: connectLatency.toData(), redials, runs } satisfies EchoResult)}\n`);
  await new Promise((resolve) => setTimeout(resolve, job.holdMs));
  for (const s of streams) s.close();
}

main(JSON.parse(process.argv[2] ?? "{}") as EchoJob).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`echo client: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
