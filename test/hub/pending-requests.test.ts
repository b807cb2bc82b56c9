import { describe, expect, it } from "vitest";
import { createPendingRequests } from "../../src/hub/pending-requests.js";
import { createManualClock } from "../support/manual-clock.js";

describe("pending requests", () => {
  it("reads an answer as the answer to what that request asked", () => {
    const pending = createPendingRequests();
    pending.add("r1", { agentId: "a-1", kind: "save", accounts: new Map([["x", false], ["y", true]]), demotions: new Set(["x"]) });
    expect(pending.peek("a-1", "r1", "x")).toEqual({ kind: "save", caching: false, demotion: true });
    expect(pending.peek("a-1", "r1", "y")).toEqual({ kind: "save", caching: true, demotion: false });
    // Another agent's stream cannot answer for it.
    expect(pending.peek("a-2", "r1", "x")).toBeUndefined();
    pending.answered("r1", "x");
    expect(pending.peek("a-1", "r1", "x")).toBeUndefined();
    expect(pending.peek("a-1", "r1", "y")).toBeDefined();
  });

  it("lets a later message about an account supersede an earlier one: the earlier demotion's late answer no longer counts", () => {
    const pending = createPendingRequests();
    pending.add("r6", { agentId: "a-1", kind: "save", accounts: new Map([["x", false], ["y", false]]), demotions: new Set(["x"]) });
    // Another replica re-sent the role: the agent's last word about x says it caches.
    pending.add("r9", { agentId: "a-1", kind: "save", accounts: new Map([["x", true]]) });
    // Still an answer the agent owes (not a stray), but one that counts for nothing.
    expect(pending.peek("a-1", "r6", "x")).toBe("superseded");
    expect(pending.peek("a-1", "r6", "y")).toEqual({ kind: "save", caching: false, demotion: false });
    expect(pending.peek("a-1", "r9", "x")).toEqual({ kind: "save", caching: true, demotion: false });
    // Other agents' requests about x are theirs.
    pending.add("r10", { agentId: "a-2", kind: "add", accounts: new Map([["x", false]]) });
    expect(pending.peek("a-1", "r9", "x")).toBeDefined();
    // Once dropped, a second copy of the superseded answer is a stray.
    pending.answered("r6", "x");
    expect(pending.peek("a-1", "r6", "x")).toBeUndefined();
    expect(pending.peek("a-1", "r6", "y")).toBeDefined();
    // Answering the later request leaves the next one about x in charge.
    pending.answered("r9", "x");
    pending.add("r11", { agentId: "a-1", kind: "delete", accounts: new Map([["x", false]]) });
    expect(pending.peek("a-1", "r11", "x")).toEqual({ kind: "delete", caching: false, demotion: false });
  });

  it("stops timing a request every account of which a later one superseded", async () => {
    const clock = createManualClock();
    const expired: string[] = [];
    const pending = createPendingRequests({ clock, timeoutMs: 1_000, expired: (agentId, requestId, unanswered) => expired.push(`${agentId} ${requestId} ${unanswered.join(",")}`) });
    pending.add("r1", { agentId: "a-1", kind: "add", accounts: new Map([["x", true]]) });
    pending.sent("r1");
    await clock.advance(500);
    pending.add("r2", { agentId: "a-1", kind: "save", accounts: new Map([["x", false], ["y", false]]) });
    pending.sent("r2");
    await clock.advance(600);
    expect(expired).toEqual([]);
    pending.answered("r2", "y");
    await clock.advance(400);
    expect(expired).toEqual(["a-1 r2 x"]);
    // r1's superseded answer was not waited for past its own deadline.
    expect(pending.peek("a-1", "r1", "x")).toBeUndefined();
  });

  it("forgets every request of an agent whose stream ended", async () => {
    const clock = createManualClock();
    const expired: string[] = [];
    const pending = createPendingRequests({ clock, timeoutMs: 1_000, expired: (agentId, requestId) => expired.push(`${agentId} ${requestId}`) });
    pending.add("r1", { agentId: "a-1", kind: "add", accounts: new Map([["x", true]]) });
    pending.sent("r1");
    pending.add("r2", { agentId: "a-1", kind: "delete", accounts: new Map([["y", false]]) });
    pending.sent("r2");
    pending.add("r3", { agentId: "a-2", kind: "add", accounts: new Map([["x", false]]) });
    pending.sent("r3");
    pending.forgetAgent("a-1");
    expect(pending.peek("a-1", "r1", "x")).toBeUndefined();
    expect(pending.peek("a-1", "r2", "y")).toBeUndefined();
    await clock.advance(1_000);
    expect(expired).toEqual(["a-2 r3"]);
  });

  it("times thousands of requests with one timer, each running out timeoutMs after it was sent", async () => {
    const clock = createManualClock();
    let armed = 0;
    let mostArmed = 0;
    const counted = {
      ...clock,
      after(ms: number, fn: () => void) {
        mostArmed = Math.max(mostArmed, ++armed);
        const cancel = clock.after(ms, () => {
          armed--;
          fn();
        });
        return () => {
          armed--;
          cancel();
        };
      },
    };
    const expired: string[] = [];
    const pending = createPendingRequests({ clock: counted, timeoutMs: 1_000, expired: (_agentId, requestId) => expired.push(requestId) });
    // 3,000 requests over 300 ms; every third one is answered in time.
    for (let i = 0; i < 3_000; i++) {
      pending.add(`r${i}`, { agentId: `a-${i % 7}`, kind: "add", accounts: new Map([[`x${i}`, true]]) });
      pending.sent(`r${i}`);
      if (i % 3 === 0) pending.answered(`r${i}`, `x${i}`);
      if (i % 100 === 99) await clock.advance(10);
    }
    expect(mostArmed).toBe(1);
    // At 1,000 ms after the first, only the first 100 (sent at 0 ms) have run out.
    await clock.advance(1_000 - 300);
    const firstHundred = Array.from({ length: 100 }, (_, i) => `r${i}`).filter((_, i) => i % 3 !== 0);
    expect(expired).toEqual(firstHundred);
    await clock.advance(300);
    expect(expired).toHaveLength(2_000);
    expect(expired.every((id) => Number(id.slice(1)) % 3 !== 0)).toBe(true);
    // Still pending (left to the engine), but no longer timed.
    expect(pending.peek("a-1", "r1", "x1")).toBeDefined();
    expect(armed).toBe(0);
    // A request sent after the queue ran dry is timed again.
    pending.add("late", { agentId: "a-1", kind: "add", accounts: new Map([["z", true]]) });
    pending.sent("late");
    await clock.advance(1_000);
    expect(expired.at(-1)).toBe("late");
  });

  it("times a request from when its message was sent, not from when it was queued", async () => {
    const clock = createManualClock();
    const expired: string[] = [];
    const pending = createPendingRequests({ clock, timeoutMs: 1_000, expired: (_agentId, requestId) => expired.push(requestId) });
    pending.add("queued", { agentId: "a-1", kind: "add", accounts: new Map([["x", true]]) });
    // Minutes in the outbox (a reconnect storm's backlog) do not count against the agent.
    await clock.advance(5_000);
    expect(expired).toEqual([]);
    pending.sent("queued");
    // Sent again (a second yield of the same id) does not restart or double the deadline.
    await clock.advance(600);
    pending.sent("queued");
    await clock.advance(400);
    expect(expired).toEqual(["queued"]);
    await clock.advance(2_000);
    expect(expired).toEqual(["queued"]);
    // Ids nobody waits for (operations, welcome) are ignored.
    pending.sent("op-1");
    expect(clock.pending()).toBe(0);
  });

  it("times a request afresh when the hub paused reading its agent's stream since it was sent", async () => {
    const clock = createManualClock();
    const expired: string[] = [];
    // a-1's stream was paused (waiting for room in the engine's queue) and resumed at 500 ms.
    let resumedAt = 0;
    const pending = createPendingRequests({
      clock,
      timeoutMs: 1_000,
      readWithoutPause: (agentId, since) => agentId !== "a-1" || resumedAt < since,
      expired: (_agentId, requestId) => expired.push(requestId),
    });
    const start = clock.now();
    for (const [id, agentId] of [["r1", "a-1"], ["r2", "a-2"], ["r3", "a-1"]] as const) {
      pending.add(id, { agentId, kind: "add", accounts: new Map([[`x-${id}`, true]]) });
      pending.sent(id);
    }
    await clock.advance(500);
    resumedAt = start + 500;
    await clock.advance(500);
    // a-2's stream was read throughout: its silence counts. a-1's answers may sit behind the pause.
    expect(expired).toEqual(["r2"]);
    // Timed afresh from 1,000 ms: r3 is answered in time, r1 is not.
    await clock.advance(900);
    pending.answered("r3", "x-r3");
    expect(expired).toEqual(["r2"]);
    await clock.advance(100);
    expect(expired).toEqual(["r2", "r1"]);
    expect(clock.pending()).toBe(0);
  });
});
