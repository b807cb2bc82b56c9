import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { definition, startScenario, type Scenario } from "./support/hub-scenario.js";
import { eventually } from "../support/eventually.js";

/**
 * The database forbids a second caching holder (partial unique index on
 * kubesvc_assignments(account_name) WHERE caching), and the engine answers the refusal by running
 * its batch again on fresh rows. The race is staged with a trigger: the first five times the
 * engine writes a caching holder of `contended`, the trigger slips in another replica's caching
 * row for the same account in the same statement, which the index refuses; the sequence that
 * counts the attempts is not transactional, so it survives each rollback. Five refusals in a row
 * are more than the engine's generic retries (3) would take.
 */
describe("a caching holder refused by the database", () => {
  let s: Scenario;
  beforeAll(async () => {
    s = await startScenario("postgres");
  });
  afterAll(async () => {
    await s.stop();
  });

  it("runs the batch again until it can write, and the account ends ACTIVE with one caching holder", async () => {
    const agent = await s.connect({ agentId: "k-1", zoneId: "k" });
    await s.hub.app.database.db.execute(sql.raw(`
      CREATE SEQUENCE contention_attempts;
      CREATE FUNCTION stage_contention() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.account_name = 'contended' AND NEW.caching AND nextval('contention_attempts') <= 5 THEN
          INSERT INTO kubesvc_assignments (account_name, agent_id, hub_id, caching) VALUES (NEW.account_name, 'ghost', 'other-hub', true);
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER stage_contention BEFORE INSERT ON kubesvc_assignments FOR EACH ROW EXECUTE FUNCTION stage_contention();`));

    await s.createActive(definition("contended", "k"));
    await eventually(async () => {
      expect((await s.row("contended"))?.status).toBe("ACTIVE");
      expect(await s.holders("contended")).toEqual([{ agentId: "k-1", caching: true, hubId: s.hub.app.hubId }]);
    }, 15_000);
    const [attempts] = await s.hub.app.database.rows<{ n: string | number }>(sql`SELECT last_value AS n FROM contention_attempts`);
    // Five refused writes, then the one that went through (later upserts of the row count too).
    expect(Number(attempts?.n)).toBeGreaterThanOrEqual(6);
    expect(agent.holdings.get("contended")).toBe(true);
    expect(agent.received.filter((m) => m.kind === "add" && m.assignments.some((a) => a.name === "contended"))).toHaveLength(1);
  });
});
