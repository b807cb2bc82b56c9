import { describe, expect, it } from "vitest";
import { createManualClock } from "./manual-clock.js";

describe("the manual clock", () => {
  it("stands still until advanced, then fires due timers in order of their due time with now() at that time", async () => {
    const clock = createManualClock(1_000);
    const fired: string[] = [];
    clock.after(30, () => fired.push(`b@${clock.now()}`));
    clock.after(10, () => fired.push(`a@${clock.now()}`));
    clock.after(30, () => fired.push(`c@${clock.now()}`));
    const stop = clock.every(25, () => fired.push(`tick@${clock.now()}`));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(fired).toEqual([]);
    await clock.advance(50);
    expect(fired).toEqual(["a@1010", "tick@1025", "b@1030", "c@1030", "tick@1050"]);
    expect(clock.now()).toBe(1_050);
    stop();
    await clock.advance(100);
    expect(fired).toHaveLength(5);
    expect(clock.pending()).toBe(0);
  });

  it("lets the work a timer starts run before the next one fires", async () => {
    const clock = createManualClock(0);
    const seen: string[] = [];
    clock.after(10, () => {
      void Promise.resolve()
        .then(() => new Promise((resolve) => setImmediate(resolve)))
        .then(() => seen.push("first's work done"));
    });
    clock.after(20, () => seen.push("second fired"));
    await clock.advance(20);
    expect(seen).toEqual(["first's work done", "second fired"]);
  });

  it("does not fire a cancelled timer, and fires one set by a timer when it falls within the same advance", async () => {
    const clock = createManualClock(0);
    const fired: number[] = [];
    const cancel = clock.after(5, () => fired.push(5));
    clock.after(10, () => clock.after(10, () => fired.push(clock.now())));
    cancel();
    await clock.advance(25);
    expect(fired).toEqual([20]);
  });
});
