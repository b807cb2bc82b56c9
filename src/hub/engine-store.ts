import { asc, sql, type SQL } from "drizzle-orm";
import type { Db } from "../store/database.js";
import { queryRows } from "../store/query-rows.js";
import { accounts } from "../store/schema.js";
import { AccountSource, AccountStatus as State } from "../model/account-states.js";
import type { StoredAccount } from "./account-draft.js";
import type { RemoteAgent } from "./agent-view.js";

/**
 * The engine's statements. Every list travels as one jsonb parameter, so a batch of thousands of
 * agents or accounts is a handful of statements, whatever its size, and stays far below
 * PostgreSQL's limit of bind parameters. Same SQL on PGlite and PostgreSQL.
 */

function jsonList(values: readonly unknown[]): SQL {
  return sql`${JSON.stringify(values)}::jsonb`;
}

function textIn(values: readonly string[]): SQL {
  return sql`(SELECT jsonb_array_elements_text(${jsonList(values)}))`;
}

/** A static account to create if its name is free. */
export interface NewStaticAccount {
  name: string;
  zoneId: string | null;
  definition: Record<string, unknown>;
}

/** A holder row as the engine writes it. */
export interface HolderRow {
  account: string;
  agentId: string;
  caching: boolean;
}

/** What the engine writes back for an account it changed. */
export interface AccountWrite {
  name: string;
  status: State;
  message: string;
  failedCount: number;
  /** Static accounts only: the definition and zone from the agents' configuration. */
  definition?: Record<string, unknown>;
  zoneId?: string | null;
}

/** A connected agent's row in kubesvc_agents. */
export interface AgentRow {
  agentId: string;
  zoneId: string;
  version: string;
  labels: Record<string, string>;
}

/** The engine's queries, bound to a transaction. */
export interface EngineStore {
  /** Creates static accounts whose names are free; a taken name is left alone (the caller rejects it). */
  insertStatic(rows: readonly NewStaticAccount[]): Promise<void>;
  /** Locks and reads the named accounts, in name order so that concurrent batches cannot deadlock. */
  lockAccounts(names: readonly string[]): Promise<StoredAccount[]>;
  /** Holders of the named accounts: account → agent → caching. */
  holdersOf(names: readonly string[]): Promise<Map<string, Map<string, boolean>>>;
  /** Accounts held by the given agents: agent → account names. */
  heldBy(agentIds: readonly string[]): Promise<Map<string, string[]>>;
  /** The roles the given agents hold among these accounts: agent → account → caching. */
  rolesOf(agentIds: readonly string[], names: readonly string[]): Promise<Map<string, Map<string, boolean>>>;
  /** The stored zone and hub of agents, from kubesvc_agents. */
  agentRows(agentIds: readonly string[]): Promise<Map<string, { zoneId: string; hubId: string }>>;
  /**
   * Deletes the rows of these replicas whose lease has run out; returns those deleted and those
   * that had no row at all (their agents may be released).
   */
  fenceHubs(hubIds: readonly string[], leaseTtlMs: number): Promise<string[]>;
  /** Agents of other replicas whose lease is still running, with their caching roles. */
  remoteAgents(leaseTtlMs: number): Promise<RemoteAgent[]>;
  /**
   * Served hub-stored accounts held in a zone where a live agent that connected within
   * `windowMs` does not hold them: account → those agents.
   */
  missedByNewcomers(windowMs: number, leaseTtlMs: number, maxHolders: number): Promise<Map<string, string[]>>;
  /** ORPHANED hub-stored accounts that agents of these zones may serve (pinned to one of them, or unpinned). */
  orphansFor(zones: readonly string[]): Promise<string[]>;
  /** Served accounts that the given agents hold, with fewer than `maxHolders` holders (0 = any). */
  servedBy(agentIds: readonly string[], maxHolders: number): Promise<string[]>;
  /** Accounts that should have holders or are being changed, but have no holder at all. */
  unheld(): Promise<string[]>;
  writeAccounts(rows: readonly AccountWrite[]): Promise<void>;
  deleteAccounts(names: readonly string[]): Promise<void>;
  upsertHolders(rows: readonly HolderRow[]): Promise<void>;
  deleteHolders(rows: readonly { account: string; agentId: string }[]): Promise<void>;
  /** Rows of these agents now belong to this hub (an agent reconnected here). */
  takeOver(agentIds: readonly string[]): Promise<void>;
  upsertAgents(rows: readonly AgentRow[]): Promise<void>;
  /** Removes agents' rows, but only those of the given hub (a newer hub may own them already). */
  deleteAgents(rows: readonly { agentId: string; hubId: string }[]): Promise<void>;
}

/** Binds the engine's statements to `tx` for this hub. */
export function createEngineStore(tx: Db, hubId: string): EngineStore {
  return {
    async insertStatic(rows) {
      if (rows.length === 0) return;
      const records = rows.map((account) => ({ name: account.name, zone_id: account.zoneId, definition: account.definition }));
      await tx.execute(sql`
        INSERT INTO kubesvc_accounts (name, source, origin, type, status, zone_id, definition)
        SELECT r.name, ${AccountSource.STATIC}, 'static', 'kubernetes', ${State.ACTIVE}, r.zone_id, r.definition
        FROM jsonb_to_recordset(${jsonList(records)}) AS r(name text, zone_id text, definition jsonb)
        ON CONFLICT (name) DO NOTHING`);
    },

    async lockAccounts(names) {
      if (names.length === 0) return [];
      const rows = await tx
        .select({
          name: accounts.name,
          source: accounts.source,
          status: accounts.status,
          zoneId: accounts.zoneId,
          definition: accounts.definition,
          agentDefinition: accounts.agentDefinition,
          lastAssignmentMsg: accounts.lastAssignmentMsg,
          failedCount: accounts.failedCount,
        })
        .from(accounts)
        .where(sql`${accounts.name} IN ${textIn(names)}`)
        .orderBy(asc(accounts.name))
        .for("update");
      return rows;
    },

    async rolesOf(agentIds, names) {
      const result = new Map<string, Map<string, boolean>>();
      if (agentIds.length === 0 || names.length === 0) return result;
      const rows = await queryRows<{ agent_id: string; account_name: string; caching: number }>(
        tx,
        sql`SELECT agent_id, account_name, caching::int AS caching FROM kubesvc_assignments
            WHERE agent_id IN ${textIn(agentIds)} AND account_name IN ${textIn(names)}`,
      );
      for (const row of rows) {
        let roles = result.get(row.agent_id);
        if (roles === undefined) result.set(row.agent_id, (roles = new Map()));
        roles.set(row.account_name, Number(row.caching) === 1);
      }
      return result;
    },

    async holdersOf(names) {
      const result = new Map<string, Map<string, boolean>>();
      if (names.length === 0) return result;
      // caching as 0/1: both drivers return integers the same way, booleans not necessarily.
      const rows = await queryRows<{ account_name: string; agent_id: string; caching: number }>(
        tx,
        sql`SELECT account_name, agent_id, caching::int AS caching FROM kubesvc_assignments WHERE account_name IN ${textIn(names)}`,
      );
      for (const row of rows) {
        let holders = result.get(row.account_name);
        if (holders === undefined) result.set(row.account_name, (holders = new Map()));
        holders.set(row.agent_id, Number(row.caching) === 1);
      }
      return result;
    },

    async heldBy(agentIds) {
      const result = new Map<string, string[]>();
      if (agentIds.length === 0) return result;
      const rows = await queryRows<{ account_name: string; agent_id: string }>(
        tx,
        sql`SELECT account_name, agent_id FROM kubesvc_assignments WHERE agent_id IN ${textIn(agentIds)}`,
      );
      for (const row of rows) {
        const list = result.get(row.agent_id) ?? [];
        list.push(row.account_name);
        result.set(row.agent_id, list);
      }
      return result;
    },

    async agentRows(agentIds) {
      const result = new Map<string, { zoneId: string; hubId: string }>();
      if (agentIds.length === 0) return result;
      const rows = await queryRows<{ agent_id: string; zone_id: string; hub_id: string }>(
        tx,
        sql`SELECT agent_id, zone_id, hub_id FROM kubesvc_agents WHERE agent_id IN ${textIn(agentIds)}`,
      );
      for (const row of rows) result.set(row.agent_id, { zoneId: row.zone_id, hubId: row.hub_id });
      return result;
    },

    async fenceHubs(hubIds, leaseTtlMs) {
      const rows = await queryRows<{ hub_id: string }>(
        tx,
        sql`WITH fenced AS (
              DELETE FROM kubesvc_hubs WHERE hub_id IN ${textIn(hubIds)} AND hub_id <> ${hubId}
                AND last_heartbeat < now() - ${leaseTtlMs} * interval '1 millisecond' RETURNING hub_id)
            SELECT l.hub_id FROM jsonb_array_elements_text(${jsonList(hubIds)}) AS l(hub_id)
            WHERE l.hub_id IN (SELECT hub_id FROM fenced)
               OR (l.hub_id <> ${hubId} AND NOT EXISTS (SELECT 1 FROM kubesvc_hubs h WHERE h.hub_id = l.hub_id))`,
      );
      return rows.map((row) => row.hub_id);
    },

    async remoteAgents(leaseTtlMs) {
      const rows = await queryRows<{ agent_id: string; zone_id: string; hub_id: string; caching: number | string; held: number | string }>(
        tx,
        sql`SELECT g.agent_id, g.zone_id, g.hub_id, COALESCE(c.caching, 0) AS caching, COALESCE(c.held, 0) AS held
            FROM kubesvc_agents g JOIN kubesvc_hubs h ON h.hub_id = g.hub_id
            LEFT JOIN LATERAL (SELECT count(*) FILTER (WHERE s.caching)::int AS caching, count(*)::int AS held
              FROM kubesvc_assignments s WHERE s.agent_id = g.agent_id) c ON true
            WHERE g.hub_id <> ${hubId} AND h.last_heartbeat >= now() - ${leaseTtlMs} * interval '1 millisecond'`,
      );
      return rows.map((row) => ({ agentId: row.agent_id, zoneId: row.zone_id, hubId: row.hub_id, caching: Number(row.caching), held: Number(row.held) }));
    },

    async missedByNewcomers(windowMs, leaseTtlMs, maxHolders) {
      // Driven by the few recently connected agents: the accounts their zones serve (distinct),
      // then the newcomers that lack them, so that it stays cheap with many accounts.
      const rows = await queryRows<{ account_name: string; agent_id: string }>(
        tx,
        sql`WITH newcomers AS (
              SELECT n.agent_id, n.zone_id FROM kubesvc_agents n
              JOIN kubesvc_hubs h ON h.hub_id = n.hub_id AND h.last_heartbeat >= now() - ${leaseTtlMs} * interval '1 millisecond'
              WHERE n.connected_at >= now() - ${windowMs} * interval '1 millisecond'),
            served AS (
              SELECT DISTINCT g.zone_id, s.account_name FROM kubesvc_assignments s
              JOIN kubesvc_agents g ON g.agent_id = s.agent_id
              WHERE g.zone_id IN (SELECT zone_id FROM newcomers))
            SELECT v.account_name, n.agent_id FROM served v
            JOIN newcomers n ON n.zone_id = v.zone_id
            JOIN kubesvc_accounts a ON a.name = v.account_name
            WHERE a.status IN (${State.ACTIVE}, ${State.ACTIVATING}) AND a.source <> ${AccountSource.STATIC}
              AND NOT EXISTS (SELECT 1 FROM kubesvc_assignments x WHERE x.account_name = v.account_name AND x.agent_id = n.agent_id)
              AND (${maxHolders}::int = 0 OR (SELECT count(*) FROM kubesvc_assignments x WHERE x.account_name = v.account_name) < ${maxHolders}::int)
            LIMIT 5000`,
      );
      const result = new Map<string, string[]>();
      for (const row of rows) result.set(row.account_name, [...(result.get(row.account_name) ?? []), row.agent_id]);
      return result;
    },

    async orphansFor(zones) {
      if (zones.length === 0) return [];
      const rows = await queryRows<{ name: string }>(
        tx,
        sql`SELECT name FROM kubesvc_accounts
            WHERE status = ${State.ORPHANED} AND source <> ${AccountSource.STATIC}
              AND (zone_id IS NULL OR zone_id = '' OR zone_id IN ${textIn(zones)})`,
      );
      return rows.map((row) => row.name);
    },

    async servedBy(agentIds, maxHolders) {
      if (agentIds.length === 0) return [];
      // The accounts first, then their holders counted once each and only up to maxHolders: counted
      // per holder row, a zone of 200 agents holding static accounts 200 times each made this 4.4 s
      // at 5,000 agents (0.46 s now), and `= ANY(ARRAY(...))` keeps the agent index for short lists.
      const rows = await queryRows<{ name: string }>(
        tx,
        sql`SELECT s.account_name AS name
            FROM (SELECT DISTINCT account_name FROM kubesvc_assignments WHERE agent_id = ANY (ARRAY${textIn(agentIds)})) s
            JOIN kubesvc_accounts a ON a.name = s.account_name
            WHERE a.status IN (${State.ACTIVE}, ${State.ACTIVATING})
              AND (${maxHolders}::int = 0
                OR (SELECT count(*) FROM (SELECT 1 FROM kubesvc_assignments x WHERE x.account_name = s.account_name LIMIT ${maxHolders}::int) held) < ${maxHolders}::int)`,
      );
      return rows.map((row) => row.name);
    },

    async unheld() {
      const rows = await queryRows<{ name: string }>(
        tx,
        sql`SELECT a.name FROM kubesvc_accounts a
            WHERE a.status IN (${State.ACTIVE}, ${State.ACTIVATING}, ${State.TO_DEACTIVATE}, ${State.DEACTIVATING}, ${State.DELETING})
              AND NOT EXISTS (SELECT 1 FROM kubesvc_assignments s WHERE s.account_name = a.name)`,
      );
      return rows.map((row) => row.name);
    },

    async writeAccounts(rows) {
      if (rows.length === 0) return;
      const records = rows.map((write) => ({
        name: write.name,
        status: write.status,
        message: write.message,
        failed_count: write.failedCount,
        definition: write.definition ?? null,
        set_zone: write.zoneId !== undefined,
        zone_id: write.zoneId ?? null,
      }));
      // version goes up with every write, so that the API's optimistic updates notice the engine.
      await tx.execute(sql`
        UPDATE kubesvc_accounts AS a SET
          status = r.status,
          last_assignment_msg = r.message,
          failed_count = r.failed_count,
          definition = COALESCE(r.definition, a.definition),
          zone_id = CASE WHEN r.set_zone THEN r.zone_id ELSE a.zone_id END,
          version = a.version + 1,
          updated_at = now()
        FROM jsonb_to_recordset(${jsonList(records)})
          AS r(name text, status text, message text, failed_count integer, definition jsonb, set_zone boolean, zone_id text)
        WHERE a.name = r.name`);
    },

    async deleteAccounts(names) {
      if (names.length === 0) return;
      await tx.execute(sql`DELETE FROM kubesvc_assignments WHERE account_name IN ${textIn(names)}`);
      await tx.execute(sql`DELETE FROM kubesvc_accounts WHERE name IN ${textIn(names)}`);
    },

    async upsertHolders(rows) {
      // Roles given up first, then roles taken: the unique index on caching holders is checked
      // row by row, so a role moving between two holders must never pass through two at once.
      for (const caching of [false, true]) {
        const records = rows.filter((holder) => holder.caching === caching).map((holder) => ({ account_name: holder.account, agent_id: holder.agentId, caching: holder.caching }));
        if (records.length === 0) continue;
        // hub_id is the replica holding the agent's stream, which may be another one than this.
        await tx.execute(sql`
          INSERT INTO kubesvc_assignments (account_name, agent_id, hub_id, caching, reachable, assigned_at)
          SELECT r.account_name, r.agent_id, COALESCE(g.hub_id, ${hubId}), r.caching, true, now()
          FROM jsonb_to_recordset(${jsonList(records)}) AS r(account_name text, agent_id text, caching boolean)
          LEFT JOIN kubesvc_agents g ON g.agent_id = r.agent_id
          ON CONFLICT (account_name, agent_id) DO UPDATE SET caching = EXCLUDED.caching, hub_id = EXCLUDED.hub_id, reachable = true`);
      }
    },

    async deleteHolders(rows) {
      if (rows.length === 0) return;
      const records = rows.map((removal) => ({ account_name: removal.account, agent_id: removal.agentId }));
      await tx.execute(sql`
        DELETE FROM kubesvc_assignments AS s
        USING jsonb_to_recordset(${jsonList(records)}) AS r(account_name text, agent_id text)
        WHERE s.account_name = r.account_name AND s.agent_id = r.agent_id`);
    },

    async takeOver(agentIds) {
      if (agentIds.length === 0) return;
      await tx.execute(sql`UPDATE kubesvc_assignments SET hub_id = ${hubId} WHERE agent_id IN ${textIn(agentIds)} AND hub_id <> ${hubId}`);
    },

    async upsertAgents(rows) {
      if (rows.length === 0) return;
      const records = rows.map((agent) => ({ agent_id: agent.agentId, zone_id: agent.zoneId, version: agent.version, labels: agent.labels }));
      await tx.execute(sql`
        INSERT INTO kubesvc_agents (agent_id, zone_id, hub_id, connected_at, last_heartbeat, version, labels)
        SELECT r.agent_id, r.zone_id, ${hubId}, now(), now(), r.version, r.labels
        FROM jsonb_to_recordset(${jsonList(records)}) AS r(agent_id text, zone_id text, version text, labels jsonb)
        ON CONFLICT (agent_id) DO UPDATE SET zone_id = EXCLUDED.zone_id, hub_id = EXCLUDED.hub_id,
          connected_at = EXCLUDED.connected_at, last_heartbeat = EXCLUDED.last_heartbeat,
          version = EXCLUDED.version, labels = EXCLUDED.labels`);
    },

    async deleteAgents(rows) {
      if (rows.length === 0) return;
      const records = rows.map((agent) => ({ agent_id: agent.agentId, hub_id: agent.hubId }));
      await tx.execute(sql`
        DELETE FROM kubesvc_agents AS g
        USING jsonb_to_recordset(${jsonList(records)}) AS r(agent_id text, hub_id text)
        WHERE g.agent_id = r.agent_id AND g.hub_id = r.hub_id`);
    },
  };
}
