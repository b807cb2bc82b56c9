import { createLinkedAbortController } from "@connectrpc/connect/protocol";
import { describe, expect, it } from "vitest";
import { createFanOutSignal } from "../../src/server/fan-out-signal.js";

describe("the fan-out shutdown signal", () => {
  it("calls each abort listener once, with the signal as this, when its source aborts; removed ones not at all", () => {
    const source = new AbortController();
    const signal = createFanOutSignal(source.signal);
    const calls: string[] = [];
    const listeners = Array.from({ length: 1000 }, (_, i) =>
      function (this: unknown, event: Event) {
        calls.push(`${i} ${this === signal ? "signal" : "other"} ${event.type}`);
      },
    );
    for (const listener of listeners) signal.addEventListener("abort", listener);
    for (const listener of listeners.slice(1)) signal.removeEventListener("abort", listener);
    const handled: string[] = [];
    signal.addEventListener("abort", { handleEvent: (event) => handled.push(event.type) });
    // Listeners with options keep EventTarget's own behaviour.
    let once = 0;
    signal.addEventListener("abort", () => once++, { once: true });
    expect(signal.aborted).toBe(false);

    source.abort(new Error("shutting down"));
    expect(signal.aborted).toBe(true);
    expect((signal.reason as Error).message).toBe("shutting down");
    expect(calls).toEqual(["0 signal abort"]);
    expect(handled).toEqual(["abort"]);
    expect(once).toBe(1);
    source.abort();
    expect(calls).toHaveLength(1);
  });

  it("aborts at once when its source already has", () => {
    const source = new AbortController();
    source.abort("gone");
    const signal = createFanOutSignal(source.signal);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe("gone");
    expect(createLinkedAbortController(signal).signal.aborted).toBe(true);
  });

  it("carries a shutdown into connect's linked request signals, and a request that ended on its own is not called", () => {
    const source = new AbortController();
    const signal = createFanOutSignal(source.signal);
    const requests = Array.from({ length: 100 }, () => new AbortController());
    const linked = requests.map((request) => createLinkedAbortController(request.signal, signal));
    // Half the requests end by themselves: connect removes their listeners from the shutdown signal.
    for (const request of requests.slice(0, 50)) request.abort("client went away");
    source.abort("shutdown");
    expect(linked.map((l) => l.signal.reason as string)).toEqual([...Array<string>(50).fill("client went away"), ...Array<string>(50).fill("shutdown")]);
  });
});
