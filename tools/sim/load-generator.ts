import { sleep, wallNow } from "./clock.js";
import { createHistogram, type HistogramData } from "./histogram.js";

/** What one call of a load run did: undefined for success, or an error kind. */
export type CallOutcome = string | undefined;

export interface LoadOptions {
  /** Calls per second to aim at; the run falls short when the target cannot keep up. */
  ratePerSec: number;
  /** Calls in flight at most. */
  concurrency: number;
  durationMs: number;
  /** One call; `seq` numbers calls so callers can spread them over accounts or streams. */
  call: (seq: number) => Promise<CallOutcome>;
}

/** The outcome of a load run, serializable across processes. */
export interface LoadResult {
  calls: number;
  ok: number;
  errors: Record<string, number>;
  /** Latency of successful calls, measured from send to answer. */
  latency: HistogramData;
  elapsedMs: number;
}

/**
 * Runs calls at a target rate with a cap on concurrency: `concurrency` loops take the next slot
 * of the schedule and wait for it when they are ahead. When the target is slower than the rate
 * the loops never wait, which turns the run into a closed loop measuring the maximum throughput.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const latency = createHistogram();
  const errors: Record<string, number> = {};
  let next = 0;
  let ok = 0;
  const start = wallNow();
  const end = start + options.durationMs;
  const loop = async () => {
    for (;;) {
      const seq = next++;
      const slot = start + (seq * 1000) / options.ratePerSec;
      // Past the end by the schedule or by the clock (a target slower than the rate never catches up).
      if (slot >= end || wallNow() >= end) return;
      const wait = slot - wallNow();
      if (wait > 1) await sleep(wait);
      const sent = wallNow();
      let outcome: CallOutcome;
      try {
        outcome = await options.call(seq);
      } catch (err) {
        outcome = `exception:${err instanceof Error ? err.name : "unknown"}`;
      }
      if (outcome === undefined) {
        ok += 1;
        latency.record(wallNow() - sent);
      } else {
        errors[outcome] = (errors[outcome] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, loop));
  const calls = ok + Object.values(errors).reduce((a, b) => a + b, 0);
  return { calls, ok, errors, latency: latency.toData(), elapsedMs: wallNow() - start };
}

/** Adds `b` into `a` (results of several processes). */
export function mergeLoadResults(results: LoadResult[]): LoadResult {
  const latency = createHistogram();
  const errors: Record<string, number> = {};
  let calls = 0;
  let ok = 0;
  let elapsedMs = 0;
  for (const r of results) {
    latency.merge(r.latency);
    for (const [k, n] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + n;
    calls += r.calls;
    ok += r.ok;
    elapsedMs = Math.max(elapsedMs, r.elapsedMs);
  }
  return { calls, ok, errors, latency: latency.toData(), elapsedMs };
}
