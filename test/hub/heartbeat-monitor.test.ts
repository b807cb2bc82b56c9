import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { HelloSchema } from "../../gen/agenthub/v1/agent_pb.js";
import { createAgentRegistry } from "../../src/hub/agent-registry.js";
import { createAgentSession } from "../../src/hub/agent-session.js";
import { createHeartbeatMonitor } from "../../src/hub/heartbeat-monitor.js";
import { createLogger } from "../../src/log/logger.js";
import type { Database } from "../../src/store/database.js";
import { createManualClock } from "../support/manual-clock.js";

const INTERVAL_MS = 1_000;

/** The monitor's judgement of silence, on a manual clock (no database: heartbeat writes fail and are logged). */
describe("the heartbeat monitor", () => {
  it("ends an agent silent for missedLimit intervals, but not one whose stream the hub stopped reading", async () => {
    const clock = createManualClock();
    const registry = createAgentRegistry();
    const database = { db: { execute: () => Promise.reject(new Error("no database here")) } } as unknown as Database;
    const monitor = createHeartbeatMonitor({ database, registry, clock, logger: createLogger("silent"), hubId: "hub-h", intervalMs: INTERVAL_MS, missedLimit: 3 });
    const silent = createAgentSession(create(HelloSchema, { agentId: "silent-1", zoneId: "h" }), clock.now(), () => {});
    const paused = createAgentSession(create(HelloSchema, { agentId: "paused-1", zoneId: "h" }), clock.now(), () => {});
    registry.put(silent);
    registry.put(paused);
    // Waiting for room in the engine's queue: its messages sit unread (agent-stream.ts).
    paused.readingPaused = true;
    monitor.start();
    // Advance tick by tick, so that no tick is judged late (a late tick judges nobody).
    for (let t = 0; t < 4 * INTERVAL_MS; t += 100) await clock.advance(100);
    await monitor.stop();
    expect(silent.closed).toBe(true);
    expect(silent.closeReason).toBe("missed 3 heartbeats");
    expect(paused.closed).toBe(false);
  });
});
