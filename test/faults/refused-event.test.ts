import { status as GrpcStatus } from "@grpc/grpc-js";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { DATABASE_KINDS } from "../support/databases.js";
import { definition, useScenario } from "../hub/support/hub-scenario.js";
import { eventually } from "../support/eventually.js";

/**
 * One agent's data that the database refuses (staged with a trigger, since the edge now stops the
 * NUL characters that did it before) must fail alone: the other hellos and the API change of the
 * same engine batch commit, and only the offending agent hears of it.
 */
describe.each(DATABASE_KINDS)("an engine event the database refuses, on %s", (kind) => {
  // PINGs every 2 s: on PGlite the split batches hold the event loop long enough for 200 ms PINGs to look unanswered.
  const scenario = useScenario(kind, { "heartbeat.interval": "2s" });

  it("fails alone: the other joins and a 202'd activation in the same batch go through", async () => {
    const s = scenario();
    await s.hub.app.database.db.execute(
      sql.raw(`
      CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.agent_id = 'poison' THEN RAISE EXCEPTION 'agent poison cannot be stored' USING ERRCODE = '22023'; END IF;
        RETURN NEW;
      END $$`),
    );
    await s.hub.app.database.db.execute(sql.raw("CREATE TRIGGER refuse_poison BEFORE INSERT OR UPDATE ON kubesvc_agents FOR EACH ROW EXECUTE FUNCTION refuse_poison()"));
    try {
      expect((await s.rest("POST", "/armory/accounts/dynamic", definition("promised", "p"))).status).toBe(202);
      // Everything at once, so that it lands in one batch.
      const good = ["p-1", "p-2", "p-3", "p-4", "p-5"].map((agentId) => s.connectRaw({ agentId, zoneId: "p" }));
      const poison = s.connectRaw({ agentId: "poison", zoneId: "p" });
      const patched = await s.rest("PATCH", "/armory/accounts/dynamic", [{ name: "promised", state: "ACTIVE" }]);
      expect(patched.status).toBe(202);

      const ended = await poison.ended;
      expect(ended.code).toBe(GrpcStatus.INVALID_ARGUMENT);
      expect(ended.details).toContain("could not store agent poison");
      expect(ended.details).toContain("SQLSTATE 22023");
      for (const agent of good) await agent.waitFor("welcome");
      const account = await eventually(async () => {
        const a = await s.account("promised");
        expect(a.status).toBe("ACTIVE");
        return a;
      }, 10_000);
      expect(account.agents.length).toBeGreaterThan(0);
      expect(account.agents.every((a) => a.agentId.startsWith("p-"))).toBe(true);
      expect((await s.agentList()).map((a) => a.agentId).sort()).toEqual(["p-1", "p-2", "p-3", "p-4", "p-5"]);
    } finally {
      await s.hub.app.database.db.execute(sql.raw("DROP TRIGGER refuse_poison ON kubesvc_agents"));
      await s.hub.app.database.db.execute(sql.raw("DROP FUNCTION refuse_poison()"));
    }
  });
});
