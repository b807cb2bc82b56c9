import { createHistogram, summarize, type LatencySummary } from "../tools/sim/histogram.js";
import { mergeLoadResults, type LoadResult } from "../tools/sim/load-generator.js";
import { readProcStats } from "../tools/sim/proc-stats.js";
import { splitShares } from "../tools/sim/worker-fleet.js";
import { startJsonChild } from "./child.js";
import type { EchoJob, EchoResult } from "./echo-client.js";

/** A round-trip run on the raw transport, matched to a hub run. */
export interface CeilingRun {
  kind: "operation" | "assignment";
  ratePerSec: number;
  concurrency: number;
  durationMs: number;
}

/** The raw transport's figures for one scenario shape. */
export interface Ceiling {
  streams: number;
  connectMs: number;
  connectLatency: LatencySummary;
  /** Echo server RSS with all streams open and idle. */
  serverRssBytes: number;
  /** Dials that failed and were redialed, by error (0 when every first dial was welcomed). */
  redials: Record<string, number>;
  runs: { kind: string; throughput: number; latency: LatencySummary; errors: Record<string, number> }[];
}

/** Throughput and latency of a merged load result. */
export function loadFigures(r: LoadResult): { throughput: number; latency: LatencySummary } {
  return { throughput: r.elapsedMs > 0 ? (r.ok * 1000) / r.elapsedMs : 0, latency: summarize(createHistogram(r.latency)) };
}

/**
 * Measures the ceiling: an echo server process and `clients` client processes sharing `streams`
 * streams, with the same runs as the hub scenario.
 */
export async function measureCeiling(streams: number, clients: number, runs: CeilingRun[]): Promise<Ceiling> {
  const server = startJsonChild<{ port: number }>("./echo-server.ts", []);
  try {
    const { port } = await server.firstLine;
    const url = `http://127.0.0.1:${port}`;
    const shares = splitShares(streams, clients);
    const perClient = (r: CeilingRun) => ({ ...r, ratePerSec: r.ratePerSec / shares.length, concurrency: Math.max(1, Math.round(r.concurrency / shares.length)) });
    const holdMs = 1_500;
    const children = shares.map((s) =>
      startJsonChild<EchoResult>("./echo-client.ts", [JSON.stringify({ url, streams: s.count, firstId: s.first, runs: runs.map(perClient), holdMs } satisfies EchoJob)]),
    );
    const results = await Promise.all(children.map((c) => c.firstLine));
    // The clients hold their streams open for a moment after answering: this is the idle RSS.
    const rss = readProcStats(server.process.pid!)?.rssBytes ?? 0;
    await Promise.all(children.map((c) => c.kill()));
    const connectLatency = createHistogram();
    const redials: Record<string, number> = {};
    for (const r of results) {
      connectLatency.merge(r.connectLatency);
      for (const [kind, n] of Object.entries(r.redials)) redials[kind] = (redials[kind] ?? 0) + n;
    }
    return {
      streams,
      connectMs: Math.max(...results.map((r) => r.connectMs)),
      connectLatency: summarize(connectLatency),
      serverRssBytes: rss,
      redials,
      runs: runs.map((run, i) => {
        const merged = mergeLoadResults(results.map((r) => r.runs[i]!));
        return { kind: run.kind, ...loadFigures(merged), errors: merged.errors };
      }),
    };
  } finally {
    await server.kill();
  }
}
