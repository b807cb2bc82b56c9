/**
 * Wall-clock time in milliseconds with sub-millisecond resolution. Events are timed in several
 * processes on one machine, so they need a clock that is comparable across processes.
 */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

/** Resolves after `ms`; rejects nothing. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
