import { describe, expect, it } from "vitest";
import { DATABASE_KINDS } from "../support/databases.js";
import { definition, useScenario } from "../hub/support/hub-scenario.js";
import { eventually } from "../support/eventually.js";
import { connectTestAgent } from "../hub/support/test-agent.js";
import { startPausableProxy } from "./support/pausable-proxy.js";

describe.each(DATABASE_KINDS)("an agent that stops reading, on %s", (kind) => {
  const scenario = useScenario(kind, {
    "limits.agentOutboxBytes": "2MiB",
    "limits.maxMessageBytes": "2MiB",
    // HTTP/2 PINGs would find the stalled connection first (they are stuck behind the data too).
    "heartbeat.interval": "10s",
    "grpc.agentPort": 0,
  });

  it("is disconnected once its outbox and unsent bytes pass limits.agentOutboxBytes; its account turns ORPHANED, another agent is not held up", async () => {
    const s = scenario();
    const proxy = await startPausableProxy(s.hub.app.agentPort ?? 0);
    try {
      const stuck = connectTestAgent({ target: proxy.target, agentId: "stuck", zoneId: "stuck" });
      await stuck.waitFor("welcome");
      const calm = await s.connect({ agentId: "calm", zoneId: "calm" });
      await s.createActive(definition("calm-acc", "calm"));
      const big = (n: number) => definition("big-acc", "stuck", { blob: `${n}`.padEnd(1024 * 1024, "b") });
      expect((await s.rest("POST", "/armory/accounts/dynamic", big(0))).status).toBe(202);
      expect((await s.rest("PATCH", "/armory/accounts/dynamic", [{ name: "big-acc", state: "ACTIVE" }])).status).toBe(202);
      await eventually(async () => expect((await s.account("big-acc")).status).toBe("ACTIVE"));
      proxy.stopReading();
      // Each PUT sends the holder a 1 MiB SaveAccounts; socket buffers on the way take tens of megabytes first.
      let puts = 0;
      let message = "(never orphaned)";
      while (puts < 300) {
        expect((await s.rest("PUT", "/armory/accounts/dynamic", big(++puts))).status).toBe(202);
        const account = await s.account("big-acc");
        if (account.status === "ORPHANED") {
          message = account.lastAssignmentMsg;
          break;
        }
      }
      // The message says the stream's end, or (when the next PUT landed in the same batch) that update.
      expect(message).toMatch(/did not read its messages fast enough|definition updated; no agent of zone stuck is connected/);
      expect(await s.agentList()).toEqual([expect.objectContaining({ agentId: "calm" })]);
      console.log(`stuck agent: disconnected after ${puts} PUTs of 1 MiB (outbox limit 2 MiB)`);
      // The calm agent is served throughout.
      expect((await s.account("calm-acc")).status).toBe("ACTIVE");
      expect((await s.rest("POST", "/armory/operations", { account: "calm-acc", kind: "get", payload: {} })).status).toBe(200);
      expect(calm.received.length).toBeGreaterThan(1);
      stuck.close();
    } finally {
      await proxy.close();
    }
  });
});
