/**
 * A bounded queue of messages for one agent stream, read by that stream's response generator.
 * The generator only pulls when HTTP/2 flow control lets it write (connect-node awaits `drain`),
 * so a slow agent fills this queue, and a full queue is the signal to give up on the agent
 * instead of buffering without bound.
 */
export interface Outbox<T> {
  /** Queues a message; false when the outbox is closed or already holds `limit` messages. */
  offer(item: T, limit?: number): boolean;
  /** The next message, waiting for one; undefined once the outbox is closed. */
  take(): Promise<T | undefined>;
  /** Drops what is queued and ends `take`. */
  close(): void;
}

/** Creates an outbox holding at most `capacity` messages. */
export function createOutbox<T>(capacity: number): Outbox<T> {
  let items: T[] = [];
  let waiter: ((item: T | undefined) => void) | undefined;
  let closed = false;
  return {
    offer(item, limit = capacity) {
      if (closed || items.length >= Math.min(limit, capacity)) return false;
      if (waiter !== undefined) {
        const wake = waiter;
        waiter = undefined;
        wake(item);
      } else {
        items.push(item);
      }
      return true;
    },
    take() {
      if (items.length > 0) return Promise.resolve(items.shift());
      if (closed) return Promise.resolve(undefined);
      return new Promise((resolve) => (waiter = resolve));
    },
    close() {
      closed = true;
      items = [];
      const wake = waiter;
      waiter = undefined;
      wake?.(undefined);
    },
  };
}
