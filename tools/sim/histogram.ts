/**
 * A latency histogram with log-spaced buckets (≈ 1 % relative error), cheap to record into and to
 * merge, so worker processes can ship theirs to the coordinator instead of every sample.
 */
export interface Histogram {
  record(ms: number): void;
  merge(other: HistogramData): void;
  count(): number;
  /** The value at quantile `q` (0–1) in milliseconds; 0 when empty. */
  quantile(q: number): number;
  max(): number;
  mean(): number;
  toData(): HistogramData;
}

/** The serializable form of a histogram: sparse bucket counts. */
export interface HistogramData {
  buckets: [index: number, count: number][];
  count: number;
  sum: number;
  max: number;
}

/** Bucket growth factor: 1 % steps keep p99 honest without thousands of buckets in use. */
const GROWTH = 1.01;
/** Values below 1 µs all land in bucket 0. */
const FLOOR_MS = 0.001;
const LOG_GROWTH = Math.log(GROWTH);

function bucketOf(ms: number): number {
  return ms <= FLOOR_MS ? 0 : Math.floor(Math.log(ms / FLOOR_MS) / LOG_GROWTH) + 1;
}

function valueOf(bucket: number): number {
  return bucket === 0 ? FLOOR_MS : FLOOR_MS * GROWTH ** (bucket - 0.5);
}

/** Creates an empty histogram, optionally filled from `data`. */
export function createHistogram(data?: HistogramData): Histogram {
  const counts = new Map<number, number>();
  let total = 0;
  let sum = 0;
  let max = 0;
  const histogram: Histogram = {
    record(ms) {
      const b = bucketOf(ms);
      counts.set(b, (counts.get(b) ?? 0) + 1);
      total += 1;
      sum += ms;
      if (ms > max) max = ms;
    },
    merge(other) {
      for (const [b, n] of other.buckets) counts.set(b, (counts.get(b) ?? 0) + n);
      total += other.count;
      sum += other.sum;
      if (other.max > max) max = other.max;
    },
    count: () => total,
    quantile(q) {
      if (total === 0) return 0;
      const rank = Math.max(1, Math.ceil(q * total));
      let seen = 0;
      for (const b of [...counts.keys()].sort((x, y) => x - y)) {
        seen += counts.get(b)!;
        if (seen >= rank) return Math.min(valueOf(b), max);
      }
      return max;
    },
    max: () => max,
    mean: () => (total === 0 ? 0 : sum / total),
    toData: () => ({ buckets: [...counts.entries()], count: total, sum, max }),
  };
  if (data !== undefined) histogram.merge(data);
  return histogram;
}

/** The summary a report prints for a histogram. */
export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** p50/p95/p99/max/mean in milliseconds, rounded to µs. */
export function summarize(h: Histogram): LatencySummary {
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return { count: h.count(), p50: r(h.quantile(0.5)), p95: r(h.quantile(0.95)), p99: r(h.quantile(0.99)), max: r(h.max()), mean: r(h.mean()) };
}
