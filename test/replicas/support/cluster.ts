import { sql } from "drizzle-orm";
import type { Database } from "../../../src/store/database.js";
import { openTestDatabase } from "../../support/databases.js";
import { startReplica, type ReplicaProcess } from "./replica-process.js";

/** Hub replicas as child processes sharing one PostgreSQL schema, and the test's own connection to it. */
export interface Cluster {
  database: Database;
  replicas: ReplicaProcess[];
  /** Account name → status, for every account. */
  statuses(): Promise<Map<string, string>>;
  /** Account name → its holders' rows. */
  holders(): Promise<Map<string, { agentId: string; caching: boolean; hubId: string }[]>>;
  /** Starts replica `index` again under its hub id (a supervisor restarting a crashed process). */
  restart(index: number): Promise<ReplicaProcess>;
  /** Stops the replicas still running and drops the schema. */
  stop(): Promise<void>;
}

/** Starts `hubIds.length` replicas on a fresh schema; `envOf` adds variables per replica. */
export async function startCluster(
  hubIds: string[],
  env: Record<string, string> = {},
  envOf: (hubId: string, schema: string) => Record<string, string> = () => ({}),
): Promise<Cluster> {
  const database = await openTestDatabase("postgres");
  const start = (id: string) => startReplica(id, database.schema, { ...env, ...envOf(id, database.schema) });
  const replicas = await Promise.all(hubIds.map(start));
  return {
    database,
    replicas,
    async statuses() {
      const rows = await database.rows<{ name: string; status: string }>(sql`SELECT name, status FROM kubesvc_accounts`);
      return new Map(rows.map((r) => [r.name, r.status]));
    },
    async holders() {
      const rows = await database.rows<{ account_name: string; agent_id: string; caching: number; hub_id: string }>(
        sql`SELECT account_name, agent_id, caching::int AS caching, hub_id FROM kubesvc_assignments ORDER BY account_name, agent_id`,
      );
      const result = new Map<string, { agentId: string; caching: boolean; hubId: string }[]>();
      for (const r of rows) result.set(r.account_name, [...(result.get(r.account_name) ?? []), { agentId: r.agent_id, caching: Number(r.caching) === 1, hubId: r.hub_id }]);
      return result;
    },
    async restart(index) {
      const replica = await start(hubIds[index]!);
      replicas[index] = replica;
      return replica;
    },
    async stop() {
      await Promise.all(replicas.map((r) => r.stop()));
      await database.close();
      await database.dropSchema();
    },
  };
}
