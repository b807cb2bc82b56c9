/** The two timer calls `afterUnblocked` needs; the hub's `Clock` (src/hub/clock.ts) is one. */
export interface Timers {
  now(): number;
  after(ms: number, fn: () => void): () => void;
}

/** Real time, for callers with no clock of their own (the lease statement's deadline). */
const realTimers: Timers = {
  now: () => performance.now(),
  after(ms, fn) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};

/**
 * A timeout that only counts time the event loop was free to notice an answer. A timer that
 * fires late (the loop was busy) starts over, and one on time still lets pending I/O be read
 * first (setImmediate runs after the poll phase), so that an answer that arrived while the loop
 * was busy is never mistaken for no answer (design section 11: a renewal that is merely late is
 * no loss). `timers` lets tests drive it with a manual clock.
 */
export function afterUnblocked(ms: number, fn: () => void, timers: Timers = realTimers): () => void {
  const slack = Math.max(50, ms / 4);
  let cancelTimer: (() => void) | undefined;
  let immediate: NodeJS.Immediate | undefined;
  const arm = () => {
    const due = timers.now() + ms;
    cancelTimer = timers.after(ms, () => {
      if (timers.now() - due > slack) arm();
      else immediate = setImmediate(fn);
    });
  };
  arm();
  return () => {
    cancelTimer?.();
    if (immediate !== undefined) clearImmediate(immediate);
  };
}
