import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { DATABASE_KINDS, openTestDatabase } from "../support/databases.js";
import { countingTransactions, startHubOn } from "./support/custom-hub.js";
import { eventually } from "../support/eventually.js";
import { call } from "../support/rest.js";
import { connectTestAgent, type TestAgent } from "./support/test-agent.js";

const ZONES = ["z1", "z2", "z3"];
const AGENTS_PER_ZONE = 40;
const ACCOUNTS_PER_ZONE = 80;

describe.each(DATABASE_KINDS)("reconnect storm on %s", (kind) => {
  it("assigns the ORPHANED accounts of many agents connecting at once in a few batched transactions, caching spread evenly", async () => {
    const opened = await openTestDatabase(kind);
    const counted = countingTransactions(opened);
    // Every agent of a zone holds every account (the plugin's behaviour): the most holder rows.
    const app = await startHubOn(counted.database, { "heartbeat.interval": "2s", "assignment.maxHolders": 0 });
    const agents: TestAgent[] = [];
    try {
      const url = `http://127.0.0.1:${app.port}`;
      const names = ZONES.flatMap((zone) => Array.from({ length: ACCOUNTS_PER_ZONE }, (_, i) => ({ name: `${zone}-acc-${i}`, zone })));
      const post = await call(url, "POST", "/armory/accounts/dynamic", names.map((n) => ({ name: n.name, zoneId: n.zone, kubeconfigFile: `/k/${n.name}` })));
      expect(post.status).toBe(202);
      const patch = await call(url, "PATCH", "/armory/accounts/dynamic", names.map((n) => ({ name: n.name, state: "ACTIVE" })));
      expect(patch.status).toBe(202);
      const orphaned = await opened.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM kubesvc_accounts WHERE status = 'ORPHANED'`);
      expect(Number(orphaned[0]?.n)).toBe(names.length);

      const before = counted.count();
      for (const zone of ZONES) {
        for (let i = 0; i < AGENTS_PER_ZONE; i++) agents.push(connectTestAgent({ target: `127.0.0.1:${app.port}`, agentId: `${zone}-agent-${i}`, zoneId: zone }));
      }
      await Promise.all(agents.map((a) => a.waitFor("welcome", undefined, 30_000)));
      await eventually(async () => {
        const rows = await opened.rows<{ status: string; n: number }>(sql`SELECT status, count(*)::int AS n FROM kubesvc_accounts GROUP BY status`);
        expect(rows.map((r) => [r.status, Number(r.n)])).toEqual([["ACTIVE", names.length]]);
        const holders = await opened.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM kubesvc_assignments`);
        expect(Number(holders[0]?.n)).toBe(names.length * AGENTS_PER_ZONE);
      }, 30_000);
      // Every agent's first account message came after its welcome, and it holds its zone's accounts.
      for (const a of agents) expect(a.received[0]?.kind).toBe("welcome");
      const transactions = counted.count() - before;
      // 120 joins and 9,600 answers: batched, not a transaction per agent, let alone per answer.
      expect(transactions).toBeLessThan(agents.length);

      // Caching roles end spread over each zone's agents (80 roles over 40 agents: 2 each).
      await eventually(async () => {
        const loads = await opened.rows<{ agent_id: string; caching: number }>(
          sql`SELECT agent_id, count(*) FILTER (WHERE caching)::int AS caching FROM kubesvc_assignments GROUP BY agent_id`,
        );
        expect(loads).toHaveLength(agents.length);
        const counts = loads.map((l) => Number(l.caching));
        expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
        const perAccount = await opened.rows<{ n: number }>(
          sql`SELECT count(*) FILTER (WHERE caching)::int AS n FROM kubesvc_assignments GROUP BY account_name`,
        );
        expect(new Set(perAccount.map((r) => Number(r.n)))).toEqual(new Set([1]));
      }, 30_000);
    } finally {
      for (const a of agents) a.close();
      await app.close();
      await opened.close();
      await opened.dropSchema();
    }
  }, 120_000);
});
