import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import { createLogger } from "../../src/log/logger.js";
import type { AccountEngine } from "../../src/hub/account-engine.js";
import { createHubLease } from "../../src/hub/hub-lease.js";
import { DATABASE_KINDS, openTestDatabase } from "../support/databases.js";
import { eventually } from "../support/eventually.js";
import { createManualClock } from "../support/manual-clock.js";

/** The lease asks the engine to release dead replicas; with no other replica here it has nothing to do. */
const idleEngine = { release: async () => {}, recover: async () => {}, regrow: async () => {} } as unknown as AccountEngine;

/**
 * Design section 11, lease semantics (a): a replica whose row another replica deleted (released
 * it) knows it lost its lease at its next renewal, ends its streams (onLeaseLost), and registers
 * again. leaseHeld() says so throughout.
 */
describe.each(DATABASE_KINDS)("the hub lease on %s", (kind) => {
  it("is held once started, lost when its row is released by another replica, and taken again", async () => {
    const database = await openTestDatabase(kind);
    const config = loadConfig({ env: {}, overrides: { "hub.heartbeatInterval": "50ms", "hub.leaseTtl": "1s" } });
    const losses: string[] = [];
    // Renewals run every hub.heartbeatInterval of this clock: the test moves it.
    const clock = createManualClock();
    const lease = createHubLease({ database, config, logger: createLogger("silent"), hubId: "lease-a", clock, engine: idleEngine, onLeaseLost: (why) => losses.push(why) });
    try {
      expect(lease.leaseHeld()).toBe(false);
      await lease.start();
      expect(lease.leaseHeld()).toBe(true);
      // A renewal moves last_heartbeat on.
      const before = await database.rows<{ t: string }>(sql`SELECT last_heartbeat::text AS t FROM kubesvc_hubs WHERE hub_id = 'lease-a'`);
      await clock.advance(50);
      await eventually(async () => {
        const now = await database.rows<{ t: string }>(sql`SELECT last_heartbeat::text AS t FROM kubesvc_hubs WHERE hub_id = 'lease-a'`);
        expect(now[0]?.t).not.toBe(before[0]?.t);
      });
      expect(losses).toEqual([]);

      // Another replica released this one: its row is gone.
      await database.db.execute(sql`DELETE FROM kubesvc_hubs WHERE hub_id = 'lease-a'`);
      expect(lease.leaseHeld()).toBe(true);
      // The next renewal finds the row gone.
      await clock.advance(50);
      await eventually(() => expect(losses).toEqual(["another replica released this one (its lease row is gone)"]));
      expect(lease.leaseHeld()).toBe(false);
      // The one after registers again and holds the lease once more.
      await clock.advance(50);
      await eventually(async () => {
        const rows = await database.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM kubesvc_hubs WHERE hub_id = 'lease-a'`);
        expect(Number(rows[0]?.n)).toBe(1);
        expect(lease.leaseHeld()).toBe(true);
      });
      expect(losses).toHaveLength(1);
    } finally {
      await lease.stop();
      expect(lease.leaseHeld()).toBe(false);
      await database.close();
      await database.dropSchema();
    }
  }, 30_000);
});
