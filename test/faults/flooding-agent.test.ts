import { status as GrpcStatus } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { DATABASE_KINDS } from "../support/databases.js";
import { definition, useScenario } from "../hub/support/hub-scenario.js";
import { eventually } from "../support/eventually.js";

/** Operations answered per second by `account`, over `count` sequential calls. */
async function operationMs(rest: (m: string, p: string, b?: unknown) => Promise<{ status: number }>, account: string, count: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < count; i++) expect((await rest("POST", "/armory/operations", { account, kind: "get", payload: {} })).status).toBe(200);
  return (performance.now() - t0) / count;
}

describe.each(DATABASE_KINDS)("an agent that floods, on %s", (kind) => {
  // 2 s heartbeats: a 5,000-event batch on PGlite holds the event loop longer than three 200 ms intervals.
  const scenario = useScenario(kind, { "heartbeat.interval": "2s", "heartbeat.missedLimit": 1 });

  it("is throttled then disconnected (RESOURCE_EXHAUSTED) for a heartbeat flood, and another agent's operations keep their pace", async () => {
    const s = scenario();
    await s.connect({ agentId: "calm-1", zoneId: "calm" });
    await s.createActive(definition("calm-ops", "calm"));
    await eventually(async () => expect((await s.account("calm-ops")).status).toBe("ACTIVE"));
    const before = await operationMs(s.rest, "calm-ops", 10);

    const flood = await s.connect({ agentId: "flood-1", zoneId: "f", ownConnection: true });
    // Far beyond the 5,000 burst and 500 per second.
    for (let i = 0; i < 12_000; i++) flood.send({ heartbeat: {} });
    const during = await operationMs(s.rest, "calm-ops", 10);
    const ended = await flood.ended;
    expect(ended.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(ended.details).toContain("messages per second");
    // The calm agent still serves.
    expect((await s.account("calm-ops")).agents).toEqual([{ agentId: "calm-1", caching: true }]);
    console.log(`flooding agent (${kind}): another agent's operation ${before.toFixed(1)} → ${during.toFixed(1)} ms during the flood (×${(during / before).toFixed(2)})`);
    expect(during).toBeLessThan(3 * before + 30);
  });
});
