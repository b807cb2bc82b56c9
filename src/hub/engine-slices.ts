/**
 * Design section 11, "liveness never waits for the engine": the engine works in bounded slices.
 * A batch takes events up to a weight (rows it will touch, roughly), and long loops give the
 * event loop back every few milliseconds, so that agents' messages, heartbeats, PINGs, the lease
 * and REST reads keep flowing while big changes are worked off.
 */

/** Rows a batch may touch, roughly; a bigger backlog is worked off in several batches. */
export const MAX_BATCH_WEIGHT = 2_000;
/** Accounts (or released agents) per event at most: a bigger API change is split. */
const MAX_EVENT_ITEMS = 500;
/** How long synchronous engine work runs before it yields to the event loop. */
const SLICE_MS = 10;

/** Splits a list into chunks of `MAX_EVENT_ITEMS`. */
export function chunks<T>(items: readonly T[]): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < items.length; i += MAX_EVENT_ITEMS) result.push(items.slice(i, i + MAX_EVENT_ITEMS));
  return result;
}

/** Yields to the event loop once `SLICE_MS` of synchronous work has passed since the last yield. */
export interface Slicer {
  pause(): Promise<void>;
}

/** A slicer whose budget starts now. */
export function createSlicer(budgetMs = SLICE_MS): Slicer {
  let since = performance.now();
  return {
    async pause() {
      if (performance.now() - since < budgetMs) return;
      await new Promise<void>((resolve) => setImmediate(resolve));
      since = performance.now();
    },
  };
}
