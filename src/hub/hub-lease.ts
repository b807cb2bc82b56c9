import { sql, type SQL } from "drizzle-orm";
import type { HubConfig } from "../config/config.js";
import type { Logger } from "../log/logger.js";
import type { Database } from "../store/database.js";
import type { AccountEngine } from "./account-engine.js";
import type { ReleasedAgent } from "./engine-batch.js";
import { afterUnblocked } from "../store/loop-aware-timer.js";
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
   * The replica lost its lease: another replica released it, or it could not renew for a whole
   * `hub.leaseTtl` (others may have released it). Its streams must end so that agents register again.
   */
  onLeaseLost(why: string): void;
}

/** This replica's row in `kubesvc_hubs`, and the release of replicas that stopped renewing theirs. */
export interface HubLease {
  /** Registers the replica and releases what dead replicas left behind. */
  start(): Promise<void>;
  /** Stops renewing and removes the replica's row (its agents are released by then). */
  stop(): Promise<void>;
  /** True while the row is this replica's and was renewed within `hub.leaseTtl`. */
  leaseHeld(): boolean;
}

const REGISTER = `INSERT INTO kubesvc_hubs (hub_id, address, started_at, last_heartbeat) VALUES ($1, '', now(), now())
  ON CONFLICT (hub_id) DO UPDATE SET last_heartbeat = now(), started_at = now()`;
/** Renewal never re-creates the row: a row another replica deleted means this replica was released. */
const RENEW = `UPDATE kubesvc_hubs SET last_heartbeat = now() WHERE hub_id = $1 RETURNING hub_id`;

/**
 * Design section 11 as a Kubernetes-style lease. Renewal runs on the database's lease connection
 * and its own timer, so that no assignment work can delay it; it only updates the row (never
 * re-creates it). The lease is lost when (a) the row is gone — the replica that released this
 * one deleted it in the same transaction — or (b) no renewal succeeded for a whole `leaseTtl`
 * less a guard of one `hub.heartbeatInterval` (at most a quarter of the ttl), counted from the
 * moment the last successful one was sent: so the replica has ended its streams before any peer
 * can see its row expire, whatever phase their timers have. A renewal that is merely late is no
 * loss. After a loss the replica ends its streams and registers afresh.
 *
 * Maintenance runs on a second timer and through the engine: releasing replicas whose lease ran
 * out, finishing what they left half done, and regrowing agents that joined one replica while
 * another placed accounts on their zone.
 */
export function createHubLease(deps: HubLeaseDeps): HubLease {
  const { database, config, logger, hubId, clock, engine } = deps;
  const ttlMs = config.hub.leaseTtlMs;
  const intervalMs = config.hub.heartbeatIntervalMs;
  // A renewal slower than this is treated as failed; the next one dials afresh. Half the ttl, so
  // that a database that is merely slow (not gone) still renews in time.
  const statementTimeoutMs = Math.max(100, ttlMs / 2);
  // The replica fences itself this long before its row can look expired to a peer, so that its
  // streams have ended before any peer may release its agents, whatever the timers' phase.
  const guardMs = Math.min(intervalMs, ttlMs / 4);
  const stops: (() => void)[] = [];
  let renewing: Promise<void> | undefined;
  let maintaining: Promise<void> | undefined;
  /** clock.now() when the last successful renewal (or registration) was sent. */
  let renewedAt = -Infinity;
  /** Set between a loss and the next successful registration. */
  let lost = false;
  let stopped = false;
  let lastFailed = false;
  let cancelFence: (() => void) | undefined;

  // On PGlite a renewal waits behind the one connection's transaction, and no other replica can
  // take over: the lease is held until stop.
  const held = () => !lost && !stopped && renewedAt !== -Infinity && (!database.lease.separate || clock.now() - renewedAt < ttlMs - guardMs);

  function lose(why: string): void {
    if (lost) return;
    lost = true;
    logger.error({ hubId, why }, "this replica lost its lease; ending its agent streams so that they register again");
    deps.onLeaseLost(why);
  }

  async function renewOnce(): Promise<void> {
    const sentAt = clock.now();
    try {
      if (lost) {
        await database.lease.query(REGISTER, [hubId], statementTimeoutMs);
        renewed(sentAt);
        lost = false;
        logger.warn({ hubId }, "this replica registered again after losing its lease");
        return;
      }
      const rows = await database.lease.query(RENEW, [hubId], statementTimeoutMs);
      if (rows.length === 0) {
        lose("another replica released this one (its lease row is gone)");
        return;
      }
      renewed(sentAt);
    } catch (err) {
      lastFailed = true;
      logger.warn({ err, sinceRenewalMs: clock.now() - renewedAt }, "hub lease renewal failed");
      checkExpiry();
    }
  }

  function renewed(sentAt: number): void {
    renewedAt = sentAt;
    lastFailed = false;
    cancelFence?.();
    cancelFence = afterUnblocked(Math.max(0, sentAt + ttlMs - guardMs - clock.now()), checkExpiry, clock);
  }

  /**
   * Loss (b): no renewal succeeded since `leaseTtl` − guard ago and the last attempt failed or
   * still hangs (its own deadline, which does not count a busy event loop, had not passed yet).
   * A timer that merely fired late, with no attempt failing, is no loss. On PGlite
   * there is no other replica that could take over, so only PostgreSQL fences itself.
   */
  function checkExpiry(): void {
    if (!database.lease.separate || lost || stopped) return;
    if (clock.now() - renewedAt >= ttlMs - guardMs && (lastFailed || renewing !== undefined)) lose(`could not renew the lease for ${formatDuration(ttlMs)}`);
  }

  function renewTick(): void {
    if (stopped || renewing !== undefined) return;
    renewing = renewOnce().finally(() => (renewing = undefined));
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
   * Releases what hubs whose lease ran out (or that have no row at all) left behind. The engine's
   * batch deletes their rows in its own transaction (fencing them: their next renewal finds no
   * row) and releases only the agents of the hubs it fenced. `recover` then finishes the
   * transitions they left half done (at start the engine's own recovery does).
   */
  async function releaseDeadHubs(recover: boolean): Promise<void> {
    const live = sql`SELECT 1 FROM kubesvc_hubs h WHERE h.hub_id = x.hub_id AND h.last_heartbeat >= now() - ${ttlMs} * interval '1 millisecond'`;
    const released = await agentsOf(sql`x.hub_id <> ${hubId} AND NOT EXISTS (${live})`);
    if (released.length > 0) {
      const hubs = [...new Set(released.map((a) => a.hubId))];
      logger.warn({ hubs, agents: released.length }, "releasing the agents of hub replicas whose lease ran out");
      await engine.release(released, `was connected to a hub replica that stopped renewing its lease for ${formatDuration(ttlMs)}`, hubs);
    }
    const dead = await database.rows<{ hub_id: string }>(
      sql`DELETE FROM kubesvc_hubs WHERE hub_id <> ${hubId} AND last_heartbeat < now() - ${ttlMs} * interval '1 millisecond' RETURNING hub_id`,
    );
    // A replica that died between the API's write and its engine's batch left accounts in a
    // transient state without holders; nobody else would ever move them on.
    if (recover && (dead.length > 0 || released.length > 0)) await engine.recover(`hub ${[...new Set([...dead.map((h) => h.hub_id), ...released.map((a) => a.hubId)])].join(", ")} stopped`);
    // Letters to dead replicas will never be read: what they asked for is re-placed or timed out.
    await database.db.execute(sql`DELETE FROM kubesvc_hub_messages m WHERE m.hub_id <> ${hubId} AND NOT EXISTS (SELECT 1 FROM kubesvc_hubs h WHERE h.hub_id = m.hub_id)`);
  }

  async function othersAlive(): Promise<boolean> {
    const rows = await database.rows<{ n: number }>(
      sql`SELECT count(*)::int AS n FROM kubesvc_hubs WHERE hub_id <> ${hubId} AND last_heartbeat >= now() - ${ttlMs} * interval '1 millisecond'`,
    );
    return Number(rows[0]?.n ?? 0) > 0;
  }

  async function maintain(): Promise<void> {
    try {
      await releaseDeadHubs(true);
      // Agents that joined one replica while another placed accounts on their zone; a replica
      // alone cannot race with itself.
      if (await othersAlive()) await engine.regrow(Math.max(5_000, 5 * intervalMs));
    } catch (err) {
      logger.error({ err }, "releasing dead hub replicas failed");
    }
  }

  function maintainTick(): void {
    // A replica without its lease must not release others: it may be the one cut off.
    if (stopped || !held()) return;
    maintaining ??= maintain().finally(() => (maintaining = undefined));
  }

  return {
    async start() {
      // Rows under this replica's own id (a fixed hubId) are from before a crash: nobody holds
      // those streams now.
      const leftovers = await agentsOf(sql`x.hub_id = ${hubId}`);
      if (leftovers.length > 0) await engine.release(leftovers, "was connected to this hub before it restarted");
      const sentAt = clock.now();
      await database.lease.query(REGISTER, [hubId], Math.max(statementTimeoutMs, 5_000));
      renewed(sentAt);
      await releaseDeadHubs(false);
      stops.push(clock.every(intervalMs, renewTick), clock.every(intervalMs, maintainTick));
    },
    async stop() {
      stopped = true;
      cancelFence?.();
      for (const stop of stops.splice(0)) stop();
      await renewing;
      await maintaining;
      await database.db.execute(sql`DELETE FROM kubesvc_hubs WHERE hub_id = ${hubId}`);
    },
    leaseHeld: held,
  };
}
