import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { DATABASE_KINDS } from "../support/databases.js";
import { definition, useScenario } from "../hub/support/hub-scenario.js";
import { eventually } from "../support/eventually.js";
import { createManualClock } from "../support/manual-clock.js";

/**
 * A 202 whose engine event was lost (a replica that died right after the API's commit) leaves the
 * account transient with nobody working on it; staged here by writing the states the API writes,
 * long ago, without telling the hub. The periodic sweep must finish every one of them.
 */
describe.each(DATABASE_KINDS)("the transient sweep on %s", (kind) => {
  const clock = createManualClock();
  const scenario = useScenario(kind, {}, clock);

  it("finishes accounts left ACTIVATING, TO_DEACTIVATE or DELETING without a pending request", async () => {
    const s = scenario();
    await s.connect({ agentId: "sw-1", zoneId: "sw" });
    for (const name of ["lost-on", "lost-off", "lost-gone"]) expect((await s.rest("POST", "/armory/accounts/dynamic", definition(name, "sw"))).status).toBe(202);
    const stage = async (name: string, status: string) =>
      s.hub.app.database.db.execute(sql`UPDATE kubesvc_accounts SET status = ${status}, updated_at = now() - interval '1 hour' WHERE name = ${name}`);
    await stage("lost-on", "ACTIVATING");
    await stage("lost-off", "TO_DEACTIVATE");
    await stage("lost-gone", "DELETING");
    // The sweep runs every 5 hub.heartbeatInterval (1s here): nothing is finished before it.
    await clock.advance(999);
    expect((await s.row("lost-on"))?.status).toBe("ACTIVATING");
    await clock.advance(1);
    await eventually(async () => {
      expect((await s.account("lost-on")).status).toBe("ACTIVE");
      expect((await s.account("lost-off")).status).toBe("INACTIVE");
      expect(await s.row("lost-gone")).toBeUndefined();
    });
    expect((await s.account("lost-off")).lastAssignmentMsg).toContain("sweep");
  });
});
