import type { Clock } from "../../src/hub/clock.js";

/** A clock that stands still until the test moves it: time skipping for the hub's schedule. */
export interface ManualClock extends Clock {
  /**
   * Moves time on by `ms`, firing every timer that falls due on the way in order of its due time
   * (with `now()` at that time), and lets the work each one starts run before the next fires.
   */
  advance(ms: number): Promise<void>;
  /** Timers waiting to fire. */
  pending(): number;
}

interface Timer {
  due: number;
  /** Creation order: timers due at the same moment fire in the order they were set. */
  seq: number;
  repeatMs: number | undefined;
  fn: () => void;
}

/**
 * What a timer's work gets before time moves on. I/O (the database, sockets) runs in real time,
 * so this is real: rounds of macrotask turns (`setImmediate` runs after the poll phase that reads
 * answers), each round ending with a real 1 ms timer that lets the poll phase wait for I/O a
 * little. Enough for a message over loopback; a test that needs a database answer to have landed
 * waits for it with `eventually`.
 */
const SETTLE_ROUNDS = 3;
const TURNS_PER_ROUND = 5;

async function settle(): Promise<void> {
  for (let round = 0; round < SETTLE_ROUNDS; round++) {
    for (let i = 0; i < TURNS_PER_ROUND; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    await new Promise<void>((resolve) => setTimeout(resolve, 1));
  }
}

/**
 * Creates a manual clock starting at `start` (the real time by default, so that times it stamps
 * look ordinary next to the database's). Modelled on the time skipping of Temporal's TypeScript
 * test environment, without its automatic skips: only `advance` moves time.
 */
export function createManualClock(start = Date.now()): ManualClock {
  let now = start;
  let seq = 0;
  const timers = new Set<Timer>();

  function add(ms: number, fn: () => void, repeatMs: number | undefined): () => void {
    const timer: Timer = { due: now + Math.max(0, ms), seq: seq++, repeatMs, fn };
    timers.add(timer);
    return () => timers.delete(timer);
  }

  function nextDue(until: number): Timer | undefined {
    let next: Timer | undefined;
    for (const t of timers) if (t.due <= until && (next === undefined || t.due < next.due || (t.due === next.due && t.seq < next.seq))) next = t;
    return next;
  }

  return {
    now: () => now,
    after: (ms, fn) => add(ms, fn, undefined),
    // A zero interval would fire forever within one advance.
    every: (ms, fn) => add(ms, fn, Math.max(1, ms)),
    async advance(ms) {
      const until = now + ms;
      await settle();
      for (let timer = nextDue(until); timer !== undefined; timer = nextDue(until)) {
        now = Math.max(now, timer.due);
        if (timer.repeatMs === undefined) timers.delete(timer);
        else timer.due += timer.repeatMs;
        timer.fn();
        await settle();
      }
      now = until;
    },
    pending: () => timers.size,
  };
}
