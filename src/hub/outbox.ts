/**
 * A bounded queue of messages for one agent stream, read by that stream's response generator.
 * The generator only pulls when HTTP/2 flow control lets it write (connect-node awaits `drain`),
 * so a slow agent fills this queue, and a full queue is the signal to give up on the agent
 * instead of buffering without bound. It is bounded in messages and in bytes (design section 15).
 */
export interface Outbox<T> {
  /** Queues a message; false when the outbox is closed, already holds `limit` messages, or would exceed its bytes. */
  offer(item: T, limit?: number): boolean;
  /** The next message, waiting for one; undefined once the outbox is closed. */
  take(): Promise<T | undefined>;
  /** Bytes queued now (messages handed straight to a waiting reader are not queued). */
  readonly bytes: number;
  /** Drops what is queued and ends `take`; returns what was dropped (never handed to the reader). */
  close(): T[];
}

/**
 * Creates an outbox holding at most `capacity` messages and `maxBytes` bytes as `sizeOf` measures
 * them. A message is measured only when it has to wait, so a reader that keeps up costs nothing;
 * a single message larger than `maxBytes` still passes when the outbox is empty.
 */
export function createOutbox<T>(capacity: number, maxBytes = Infinity, sizeOf: (item: T) => number = () => 0): Outbox<T> {
  let items: { item: T; size: number }[] = [];
  let bytes = 0;
  let waiter: ((item: T | undefined) => void) | undefined;
  let closed = false;
  return {
    offer(item, limit = capacity) {
      if (closed || items.length >= Math.min(limit, capacity)) return false;
      if (waiter !== undefined) {
        const wake = waiter;
        waiter = undefined;
        wake(item);
        return true;
      }
      const size = sizeOf(item);
      if (items.length > 0 && bytes + size > maxBytes) return false;
      items.push({ item, size });
      bytes += size;
      return true;
    },
    take() {
      const first = items.shift();
      if (first !== undefined) {
        bytes -= first.size;
        return Promise.resolve(first.item);
      }
      if (closed) return Promise.resolve(undefined);
      return new Promise((resolve) => (waiter = resolve));
    },
    get bytes() {
      return bytes;
    },
    close() {
      const dropped = items.map((i) => i.item);
      closed = true;
      items = [];
      bytes = 0;
      const wake = waiter;
      waiter = undefined;
      wake?.(undefined);
      return dropped;
    },
  };
}
