import { sql, type SQL } from "drizzle-orm";
import type { HubConfig } from "../config/config.js";
import type { Logger } from "../log/logger.js";
import type { Database } from "../store/database.js";
import type { AccountEngine } from "./account-engine.js";
import type { ReleasedAgent } from "./engine-batch.js";
import type { Clock } from "./clock.js";
import { formatDuration } from "./operator-messages.js";

export interface HubLeaseDeps {
  database: Database;
  config: HubConfig;
  logger: Logger;
  hubId: string;
  clock: Clock;
  engine: AccountEngine;
  /**
   * The replica found its lease expired (the database was out of reach for longer than
   * `hub.leaseTtl`): other replicas may have released its agents, so their streams must end.
   */
  onLeaseLost(): void;
}

/** This replica's row in `kubesvc_hubs`, and the release of replicas that stopped renewing theirs. */
export interface HubLease {
  /** Registers the replica and releases what dead replicas left behind. */
  start(): Promise<void>;
  /** Stops renewing and removes the replica's row (its agents are released by then). */
  stop(): Promise<void>;
  /** Whether the lease was renewed within `hub.leaseTtl` (false before start and after stop). */
  held(): boolean;
}

/**
 * Design section 11, as far as one replica needs it: the lease is renewed every
 * `hub.heartbeatInterval`; agents and assignments of hubs whose lease ran out (a crashed
 * process) are released through the engine, so that no account stays with an agent nobody
 * holds a stream to. An agent that reconnects first is simply taken over. Each renewal also
 * asks the engine to finish what concurrent replicas cannot see of each other: accounts left in
 * a transient state by a replica that died mid-batch, and agents that joined one replica while
 * another placed accounts on their zone.
 */
export function createHubLease(deps: HubLeaseDeps): HubLease {
  const { database, config, logger, hubId, clock, engine } = deps;
  const ttlMs = config.hub.leaseTtlMs;
  let stopTimer: (() => void) | undefined;
  let renewing: Promise<void> | undefined;
  /** When the last renewal was written; undefined while the replica holds no lease. */
  let renewedAt: number | undefined;

  /** Renews the lease; false when it had run out (or the row was gone) before this renewal. */
  async function renew(): Promise<boolean> {
    const asked = clock.now();
    const rows = await database.rows<{ fresh: boolean | number }>(sql`
      WITH before AS (SELECT (last_heartbeat >= now() - ${ttlMs} * interval '1 millisecond')::int AS fresh FROM kubesvc_hubs WHERE hub_id = ${hubId})
      INSERT INTO kubesvc_hubs (hub_id, address, started_at, last_heartbeat) VALUES (${hubId}, '', now(), now())
      ON CONFLICT (hub_id) DO UPDATE SET last_heartbeat = now()
      RETURNING (SELECT fresh FROM before) AS fresh`);
    // Timed from the request: the row may have been written any time after it was sent.
    renewedAt = asked;
    return Number(rows[0]?.fresh ?? 0) === 1;
  }

  /** Agents (with their zone) that rows of kubesvc_agents or kubesvc_assignments tie to hubs matching `which`. */
  async function agentsOf(which: SQL): Promise<ReleasedAgent[]> {
    const rows = await database.rows<{ agent_id: string; zone_id: string; hub_id: string }>(sql`
      SELECT x.agent_id, COALESCE(g.zone_id, '') AS zone_id, x.hub_id FROM (
        SELECT agent_id, hub_id FROM kubesvc_agents UNION SELECT agent_id, hub_id FROM kubesvc_assignments
      ) x LEFT JOIN kubesvc_agents g ON g.agent_id = x.agent_id AND g.hub_id = x.hub_id
      WHERE ${which}`);
    return rows.map((a) => ({ agentId: a.agent_id, zoneId: a.zone_id, hubId: a.hub_id }));
  }

  /**
   * Releases what hubs whose lease ran out (or that have no row at all) left behind; `recover`
   * then finishes the transitions they left half done (at start the engine's own recovery does).
   */
  async function releaseDeadHubs(recover: boolean): Promise<void> {
    const live = sql`SELECT 1 FROM kubesvc_hubs h WHERE h.hub_id = x.hub_id AND h.last_heartbeat >= now() - ${ttlMs} * interval '1 millisecond'`;
    const released = await agentsOf(sql`x.hub_id <> ${hubId} AND NOT EXISTS (${live})`);
    if (released.length > 0) {
      logger.warn({ hubs: [...new Set(released.map((a) => a.hubId))], agents: released.length }, "releasing the agents of hub replicas whose lease ran out");
      await engine.release(released, `was connected to a hub replica that stopped renewing its lease for ${formatDuration(ttlMs)}`);
    }
    const dead = await database.rows<{ hub_id: string }>(
      sql`DELETE FROM kubesvc_hubs WHERE hub_id <> ${hubId} AND last_heartbeat < now() - ${ttlMs} * interval '1 millisecond' RETURNING hub_id`,
    );
    // A replica that died between the API's write and its engine's batch left accounts in a
    // transient state without holders; nobody else would ever move them on.
    if (recover && dead.length > 0) await engine.recover(`hub ${dead.map((h) => h.hub_id).join(", ")} stopped`);
    // Letters to dead replicas will never be read: what they asked for is re-placed or timed out.
    await database.db.execute(sql`DELETE FROM kubesvc_hub_messages m WHERE m.hub_id <> ${hubId} AND NOT EXISTS (SELECT 1 FROM kubesvc_hubs h WHERE h.hub_id = m.hub_id)`);
  }

  async function othersAlive(): Promise<boolean> {
    const rows = await database.rows<{ n: number }>(
      sql`SELECT count(*)::int AS n FROM kubesvc_hubs WHERE hub_id <> ${hubId} AND last_heartbeat >= now() - ${ttlMs} * interval '1 millisecond'`,
    );
    return Number(rows[0]?.n ?? 0) > 0;
  }

  async function beat(): Promise<void> {
    try {
      if (!(await renew())) {
        logger.error({ hubId }, "this replica's lease had run out; ending its agent streams so that they register again");
        deps.onLeaseLost();
      }
      await releaseDeadHubs(true);
      // Agents that joined one replica while another placed accounts on their zone; a replica
      // alone cannot race with itself.
      if (await othersAlive()) await engine.regrow(Math.max(5_000, 5 * config.hub.heartbeatIntervalMs));
    } catch (err) {
      logger.error({ err }, "hub lease renewal failed");
    }
  }

  return {
    held: () => renewedAt !== undefined && clock.now() - renewedAt < ttlMs,
    async start() {
      // Rows under this replica's own id (a fixed hubId) are from before a crash: nobody holds
      // those streams now.
      const leftovers = await agentsOf(sql`x.hub_id = ${hubId}`);
      if (leftovers.length > 0) await engine.release(leftovers, "was connected to this hub before it restarted");
      await renew();
      await releaseDeadHubs(false);
      stopTimer = clock.every(config.hub.heartbeatIntervalMs, () => {
        renewing ??= beat().finally(() => (renewing = undefined));
      });
    },
    async stop() {
      stopTimer?.();
      stopTimer = undefined;
      await renewing;
      renewedAt = undefined;
      await database.db.execute(sql`DELETE FROM kubesvc_hubs WHERE hub_id = ${hubId}`);
    },
  };
}
