/**
 * A push-driven async iterable: the request side of a client stream. `push` never blocks; the
 * transport pulls at its own pace, and `close` ends the stream (half-close).
 */
export interface MessageQueue<T> extends AsyncIterable<T> {
  push(item: T): void;
  close(): void;
}

/** Creates an open, empty queue. It can be iterated once. */
export function createMessageQueue<T>(): MessageQueue<T> {
  const items: T[] = [];
  let closed = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  return {
    push(item) {
      if (closed) return;
      items.push(item);
      notify();
    },
    close() {
      closed = true;
      notify();
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        while (items.length > 0) yield items.shift()!;
        if (closed) return;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
}
