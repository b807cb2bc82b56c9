type Listener = Parameters<EventTarget["addEventListener"]>[1];
type AddOptions = Parameters<EventTarget["addEventListener"]>[2];
type RemoveOptions = Parameters<EventTarget["removeEventListener"]>[2];

/**
 * An AbortSignal that follows `source` and that thousands of requests can listen to cheaply.
 *
 * connect-node links every request's context signal to the adapter's `shutdownSignal`: one abort
 * listener per open stream on one signal. Node's EventTarget walks its listener list on every
 * add and remove (to find duplicates), so with 5,000 agent streams each new or ending stream cost
 * a walk of 5,000: in a reconnect storm's profile 5.2 s of 52 s went to addEventListener,
 * removeEventListener and connect's onAbort. This signal keeps its abort listeners in a Set
 * instead (O(1) both ways) and calls them, with the signal as `this`, when `source` aborts.
 * Listeners added with options (once, signal, capture) take EventTarget's own path.
 */
export function createFanOutSignal(source: AbortSignal): AbortSignal {
  const controller = new AbortController();
  const signal = controller.signal;
  const listeners = new Set<Listener>();
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  const fanOutAdd = (type: string, listener: Listener, options?: AddOptions): void => {
    if (type === "abort" && options === undefined && !signal.aborted) listeners.add(listener);
    else add(type, listener, options);
  };
  const fanOutRemove = (type: string, listener: Listener, options?: RemoveOptions): void => {
    if (type === "abort" && listeners.delete(listener)) return;
    remove(type, listener, options);
  };
  signal.addEventListener = fanOutAdd;
  signal.removeEventListener = fanOutRemove;
  const abort = () => {
    controller.abort(source.reason);
    const event = new Event("abort");
    for (const listener of [...listeners]) {
      listeners.delete(listener);
      if (typeof listener === "function") listener.call(signal, event);
      else listener.handleEvent(event);
    }
  };
  if (source.aborted) abort();
  else source.addEventListener("abort", abort, { once: true });
  return signal;
}
