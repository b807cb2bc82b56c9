/** Time and timers, injectable so that tests and simulations can drive the hub's schedule. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` once after `ms`; returns a function that cancels it. */
  after(ms: number, fn: () => void): () => void;
  /** Runs `fn` every `ms`; returns a function that stops it. */
  every(ms: number, fn: () => void): () => void;
}

/** The real clock. Timers are unref'd: the listening server, not the hub's schedule, keeps the process alive. */
export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, fn) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
  every(ms, fn) {
    const timer = setInterval(fn, ms);
    timer.unref();
    return () => clearInterval(timer);
  },
};

/**
 * `clock.after` that only counts time the event loop was free to notice an answer: a timer that
 * fires late (the loop was busy) starts over, and one on time still lets pending I/O be read
 * first (setImmediate runs after the poll phase), so that an answer that arrived while the loop
 * was busy is never mistaken for no answer (design section 11: a late renewal is no loss).
 */
export function afterUnblocked(clock: Clock, ms: number, fn: () => void): () => void {
  const slack = Math.max(50, ms / 4);
  let cancelTimer: (() => void) | undefined;
  let immediate: NodeJS.Immediate | undefined;
  const arm = () => {
    const due = clock.now() + ms;
    cancelTimer = clock.after(ms, () => {
      if (clock.now() - due > slack) arm();
      else immediate = setImmediate(fn);
    });
  };
  arm();
  return () => {
    cancelTimer?.();
    if (immediate !== undefined) clearImmediate(immediate);
  };
}
