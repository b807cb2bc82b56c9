import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { DATABASE_KINDS, openTestDatabase } from "../support/databases.js";
import { startHubOn } from "./support/custom-hub.js";
import { eventually } from "../support/eventually.js";
import { connectTestAgent, type TestAgent } from "./support/test-agent.js";

type TestDatabase = Awaited<ReturnType<typeof openTestDatabase>>;

/** Rows a previous hub process left: agent a-1 holding accounts through hub `hubId`. */
async function seed(database: TestDatabase, hubId: string, leaseAgo: string): Promise<void> {
  await database.db.execute(sql`INSERT INTO kubesvc_hubs (hub_id, last_heartbeat) VALUES (${hubId}, now() - ${leaseAgo}::interval)`);
  await database.db.execute(sql`INSERT INTO kubesvc_agents (agent_id, zone_id, hub_id) VALUES ('a-1', 'a', ${hubId})`);
  for (const [name, status] of [
    ["held-1", "ACTIVE"],
    ["leaving-1", "DEACTIVATING"],
    ["dropping-1", "DELETING"],
  ] as const) {
    await database.db.execute(sql`
      INSERT INTO kubesvc_accounts (name, source, origin, status, zone_id, definition)
      VALUES (${name}, 'clouddriver', 'created', ${status}, 'a', ${JSON.stringify({ name, zoneId: "a", kubeconfigFile: "/k" })}::jsonb)`);
  }
  await database.db.execute(sql`
    INSERT INTO kubesvc_assignments (account_name, agent_id, hub_id, caching)
    VALUES ('held-1', 'a-1', ${hubId}, true), ('leaving-1', 'a-1', ${hubId}, true), ('dropping-1', 'a-1', ${hubId}, true)`);
  // Interrupted before the hub could act: an activation and a deactivation without holders.
  await database.db.execute(sql`
    INSERT INTO kubesvc_accounts (name, source, origin, status, zone_id, definition)
    VALUES ('half-on', 'clouddriver', 'created', 'ACTIVATING', 'a', '{"name":"half-on","zoneId":"a","kubeconfigFile":"/k"}'::jsonb),
           ('half-off', 'clouddriver', 'created', 'TO_DEACTIVATE', 'a', '{"name":"half-off","zoneId":"a","kubeconfigFile":"/k"}'::jsonb)`);
}

async function statuses(database: TestDatabase): Promise<Record<string, unknown>[]> {
  return database.rows(sql`SELECT name, status, last_assignment_msg FROM kubesvc_accounts ORDER BY name`);
}

describe.each(DATABASE_KINDS)("hub restart on %s", (kind) => {
  it("releases what a dead replica left behind, finishes interrupted transitions, and assigns again when the agent returns", async () => {
    const database = await openTestDatabase(kind);
    await seed(database, "dead-hub", "1 minute");
    const app = await startHubOn(database, { "hub.leaseTtl": "3s" });
    let agent: TestAgent | undefined;
    try {
      const lost = "agent a-1 (zone a) was connected to a hub replica that stopped renewing its lease for 3s";
      expect(await statuses(database)).toEqual([
        { name: "half-off", status: "INACTIVE", last_assignment_msg: "deactivated; no agent held it" },
        { name: "half-on", status: "ORPHANED", last_assignment_msg: `hub ${app.hubId} started; no agent of zone a is connected` },
        { name: "held-1", status: "ORPHANED", last_assignment_msg: `${lost}; no agent of zone a is connected` },
        { name: "leaving-1", status: "INACTIVE", last_assignment_msg: `deactivated: ${lost}` },
      ]);
      expect(await database.rows(sql`SELECT hub_id FROM kubesvc_hubs`)).toEqual([{ hub_id: app.hubId }]);
      expect(await database.rows(sql`SELECT agent_id FROM kubesvc_agents`)).toEqual([]);
      expect(await database.rows(sql`SELECT account_name FROM kubesvc_assignments`)).toEqual([]);

      agent = connectTestAgent({ target: `127.0.0.1:${app.port}`, agentId: "a-1", zoneId: "a" });
      await agent.waitFor("add", (m) => m.assignments.some((a) => a.name === "held-1"));
      await eventually(async () => {
        const rows = await database.rows<{ name: string; status: string }>(sql`SELECT name, status FROM kubesvc_accounts WHERE name IN ('held-1', 'half-on') ORDER BY name`);
        expect(rows).toEqual([
          { name: "half-on", status: "ACTIVE" },
          { name: "held-1", status: "ACTIVE" },
        ]);
      });
    } finally {
      agent?.close();
      await app.close();
      await database.close();
      await database.dropSchema();
    }
  });

  it("releases rows left under its own fixed hubId by a crash before it restarted", async () => {
    const database = await openTestDatabase(kind);
    await seed(database, "fixed-hub", "1 second");
    const app = await startHubOn(database, { hubId: "fixed-hub" });
    try {
      expect(app.hubId).toBe("fixed-hub");
      expect(await database.rows(sql`SELECT name, status FROM kubesvc_accounts WHERE name IN ('held-1', 'leaving-1') ORDER BY name`)).toEqual([
        { name: "held-1", status: "ORPHANED" },
        { name: "leaving-1", status: "INACTIVE" },
      ]);
      expect(await database.rows(sql`SELECT last_assignment_msg FROM kubesvc_accounts WHERE name = 'held-1'`)).toEqual([
        { last_assignment_msg: "agent a-1 (zone a) was connected to this hub before it restarted; no agent of zone a is connected" },
      ]);
      expect(await database.rows(sql`SELECT agent_id FROM kubesvc_agents`)).toEqual([]);
      expect(await database.rows(sql`SELECT account_name FROM kubesvc_assignments`)).toEqual([]);
    } finally {
      await app.close();
      await database.close();
      await database.dropSchema();
    }
  });

  it("hands the holdings of a replica that crashed moments ago to the agent when it reconnects here", async () => {
    const database = await openTestDatabase(kind);
    await seed(database, "crashed-hub", "1 second");
    const app = await startHubOn(database, { "hub.leaseTtl": "3s" });
    let agent: TestAgent | undefined;
    try {
      // The crashed replica's lease still runs: nothing is released yet.
      expect(await database.rows(sql`SELECT status FROM kubesvc_accounts WHERE name = 'held-1'`)).toEqual([{ status: "ACTIVE" }]);
      agent = connectTestAgent({ target: `127.0.0.1:${app.port}`, agentId: "a-1", zoneId: "a" });
      const save = await agent.waitFor("save", (m) => m.assignments.some((a) => a.name === "held-1"));
      expect(save.assignments.find((a) => a.name === "held-1")?.caching).toBe(true);
      expect(agent.received[0]?.kind).toBe("welcome");
      // A holder of an account being deactivated or deleted is told again to stop.
      await agent.waitFor("delete", (m) => m.names.includes("leaving-1") && m.names.includes("dropping-1"));
      await eventually(async () => {
        expect(await database.rows(sql`SELECT account_name, hub_id FROM kubesvc_assignments ORDER BY account_name`)).toEqual([
          { account_name: "half-on", hub_id: app.hubId },
          { account_name: "held-1", hub_id: app.hubId },
        ]);
        expect(await statuses(database)).toEqual([
          { name: "half-off", status: "INACTIVE", last_assignment_msg: "deactivated; no agent held it" },
          { name: "half-on", status: "ACTIVE", last_assignment_msg: "successfully assigned to Agent a-1 for caching" },
          { name: "held-1", status: "ACTIVE", last_assignment_msg: "" },
          { name: "leaving-1", status: "INACTIVE", last_assignment_msg: "deactivated: agent a-1 (zone a) stopped serving it" },
        ]);
      });
      // Once its lease runs out the crashed replica's row goes, and its agent stays with us.
      await eventually(async () => expect(await database.rows(sql`SELECT hub_id FROM kubesvc_hubs`)).toEqual([{ hub_id: app.hubId }]), 6_000);
      expect(await database.rows(sql`SELECT agent_id, hub_id FROM kubesvc_agents`)).toEqual([{ agent_id: "a-1", hub_id: app.hubId }]);
    } finally {
      agent?.close();
      await app.close();
      await database.close();
      await database.dropSchema();
    }
  });
});
