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

/** What the parent asks of one client process. */
export interface EchoJob {
  url: string;
  streams: number;
  /** Round-trip runs, in order; each with its own rate, concurrency and duration. */
  runs: { kind: "operation" | "assignment"; ratePerSec: number; concurrency: number; durationMs: number }[];
  /** Keep the streams open this long after the runs (the parent reads the server's RSS meanwhile). */
  holdMs: number;
}

/** What one client process measured. */
export interface EchoResult {
  connectMs: number;
  connectLatency: HistogramData;
  runs: LoadResult[];
}

type Req = MessageInitShape<typeof ConnectRequestSchema>;

interface EchoStream {
  send(m: Req): void;
  waiters: Map<string, () => void>;
  close(): void;
}

async function openStream(url: string, id: number, connectLatency: ReturnType<typeof createHistogram>): Promise<EchoStream> {
  const manager = new Http2SessionManager(url);
  const client = createClient(AgentService, createGrpcTransport({ baseUrl: url, sessionManager: manager }));
  const queue = createMessageQueue<Req>();
  const waiters = new Map<string, () => void>();
  const started = wallNow();
  let welcomed: () => void = () => {};
  const welcome = new Promise<void>((resolve) => (welcomed = resolve));
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
  reading.catch(() => {
    // The parent ends the process after the runs; a stream that fails earlier shows as missing answers.
  });
  await welcome;
  return { send: (m) => queue.push(m), waiters, close: () => (queue.close(), manager.abort()) };
}

async function main(job: EchoJob): Promise<void> {
  const connectLatency = createHistogram();
  const t0 = wallNow();
  const streams = await Promise.all(Array.from({ length: job.streams }, (_, i) => openStream(job.url, i, connectLatency)));
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
  process.stdout.write(`${JSON.stringify({ connectMs, connectLatency: connectLatency.toData(), runs } satisfies EchoResult)}\n`);
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
