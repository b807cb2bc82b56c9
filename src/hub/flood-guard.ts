/** Messages per second an agent may send beyond the answers it was asked for (heartbeats, unsolicited reports). */
const FLOOD_RATE = 500;
/** The burst of such messages taken at once (a cluster lost with thousands of accounts reports each). */
const FLOOD_BURST = 5000;
/** Unexpected messages (unknown request or operation ids, stray answers) tolerated per second... */
const STRAY_RATE = 10;
/** ...and at once, before the agent is disconnected. */
const STRAY_BURST = 100;

/** What to do with one message of an agent. */
export type Verdict = { kind: "take" } | { kind: "wait"; ms: number } | { kind: "disconnect"; reason: string };

/**
 * Flood control of one agent stream (design section 15). Answers to what the hub asked are free.
 * Other messages draw on a token bucket: when it is empty the stream's reader waits (HTTP/2 flow
 * control then holds the agent back, and nobody else is slowed); an agent that stays throttled
 * longer than `patienceMs` is disconnected. Unexpected messages draw on a small second bucket, and
 * an empty one disconnects at once: a correct agent never sends many of them.
 */
export interface FloodGuard {
  /** A message that is neither an expected answer nor unexpected. */
  ordinary(now: number): Verdict;
  /** A message the hub did not ask for and cannot use; it is dropped. */
  stray(now: number): Verdict;
}

function bucket(rate: number, burst: number, start: number) {
  let tokens = burst;
  let at = start;
  return {
    /** Takes a token; returns how long until one is available when there is none. */
    take(now: number): number {
      tokens = Math.min(burst, tokens + ((now - at) * rate) / 1000);
      at = now;
      if (tokens >= 1) {
        tokens -= 1;
        return 0;
      }
      return Math.ceil(((1 - tokens) * 1000) / rate);
    },
    /** Tokens left now (without refilling). */
    get left() {
      return tokens;
    },
  };
}

/** Creates the guard of a stream that started at `now`. */
export function createFloodGuard(now: number, patienceMs: number): FloodGuard {
  const messages = bucket(FLOOD_RATE, FLOOD_BURST, now);
  const strays = bucket(STRAY_RATE, STRAY_BURST, now);
  let throttledSince: number | undefined;
  return {
    ordinary(at) {
      const wait = messages.take(at);
      // Throttling is over once the bucket has refilled a good part, not at the first token a
      // wait earned: an agent that keeps sending at the limit stays throttled.
      if (wait === 0 && messages.left >= FLOOD_BURST / 10) throttledSince = undefined;
      if (wait === 0) return { kind: "take" };
      throttledSince ??= at;
      if (at - throttledSince > patienceMs) return { kind: "disconnect", reason: `sent more than ${FLOOD_RATE} messages per second for too long` };
      return { kind: "wait", ms: wait };
    },
    stray(at) {
      if (strays.take(at) === 0) return { kind: "take" };
      return { kind: "disconnect", reason: `sent more than ${STRAY_BURST} messages the hub did not ask for (unknown request or operation ids)` };
    },
  };
}
