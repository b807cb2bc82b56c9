import { status as GrpcStatus } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { DATABASE_KINDS } from "../support/databases.js";
import { definition, useScenario } from "./support/hub-scenario.js";
import { eventually } from "../support/eventually.js";

const ACCOUNTS = 100;

/**
 * A reconnect re-sends the agent every account it holds, and the agent answers each one. For an
 * ACTIVE account those answers change nothing: they are taken without an engine batch (in a
 * reconnect storm they were 1,700 of every 1,800 queued events), yet they are taken — the
 * deadline (`dynamicAccounts.assignTimeout`) does not count them as silence.
 */
describe.each(DATABASE_KINDS)("answers that change nothing, on %s", (kind) => {
  const scenario = useScenario(kind, { "dynamicAccounts.assignTimeout": "1s", "heartbeat.interval": "2s" });

  it("cost no batch, and still count as answers", async () => {
    const s = scenario();
    const batches = async () => {
      const text = await (await fetch(`${s.hub.url}/metrics`)).text();
      return Number(/^agenthub_engine_batch_seconds_count(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1]);
    };
    /** The batch count once it stopped moving for 300 ms. */
    const settled = async () => {
      let last = await batches();
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, 300));
        const now = await batches();
        if (now === last) return now;
        last = now;
      }
    };
    const first = await s.connect({ agentId: "idle-1", zoneId: "idle" });
    const names = Array.from({ length: ACCOUNTS }, (_, i) => `idle-${i}`);
    expect((await s.rest("POST", "/armory/accounts/dynamic", names.map((name) => definition(name, "idle")))).status).toBe(202);
    expect((await s.rest("PATCH", "/armory/accounts/dynamic", names.map((name) => ({ name, state: "ACTIVE" })))).status).toBe(202);
    await eventually(async () => expect(((await s.rest("GET", "/armory/accounts?zoneId=idle&status=ACTIVE&limit=1")).json as { total: number }).total).toBe(ACCOUNTS));

    // The agent reconnects (its new stream replaces the old one, which keeps its holdings for it);
    // it holds its answers to what it is told again until the hub is quiet.
    const again = await s.connect({ agentId: "idle-1", zoneId: "idle", onAccount: () => "silent" });
    const resent = await eventually(() => {
      const told = again.received.flatMap((m) => (m.kind === "save" ? m.assignments.map((a) => ({ requestId: m.requestId, name: a.name })) : []));
      expect(told).toHaveLength(ACCOUNTS);
      return told;
    });
    expect((await first.ended).code).toBe(GrpcStatus.ABORTED);
    const before = await settled();
    for (const { requestId, name } of resent) again.send({ accountResult: { requestId, accountName: name, outcome: "OUTCOME_OK", message: "" } });
    // Past the 1 s deadline: an answer not taken would now count as UNREACHABLE and move the account.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await settled()).toBe(before);
    const listed = (await s.rest("GET", "/armory/accounts?zoneId=idle&limit=1000")).json as { items: { status: string; agents: { agentId: string; caching: boolean }[] }[] };
    expect(listed.items).toHaveLength(ACCOUNTS);
    for (const account of listed.items) {
      expect(account.status).toBe("ACTIVE");
      expect(account.agents).toEqual([{ agentId: "idle-1", caching: true }]);
    }
  });
});
