import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import type { SQL } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import { afterUnblocked } from "./loop-aware-timer.js";
import { queryRows } from "./query-rows.js";
import * as schema from "./schema.js";

/** The drizzle database, whichever driver is behind it. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

/** An open database with its migrations applied. */
export interface Database {
  db: Db;
  kind: "pglite" | "postgres";
  /** The schema the hub's tables live in ("" for the connection's search path). */
  schema: string;
  /** Runs a statement and returns its rows, on either driver. */
  rows<T extends Record<string, unknown>>(query: SQL): Promise<T[]>;
  /**
   * LISTENs on a channel (PostgreSQL: a dedicated connection the driver re-opens after it drops;
   * PGlite: in-process). `pg_notify` in a transaction is delivered when it commits. Resolves to
   * the function that stops listening.
   */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  /**
   * The hub lease's own connection (design section 11): a statement here never queues behind the
   * pool's transactions. On PostgreSQL it is a separate session, re-opened after a statement
   * missed `timeoutMs` (a cut network leaves a socket that never answers); on PGlite, which has
   * one connection and no other replica, it is that connection.
   */
  lease: LeaseConnection;
  /** Statements sent so far, and how many of them were NOTIFYs (PostgreSQL; zeros on PGlite): load per replica. */
  statementCounts(): { statements: number; notifies: number };
  close(): Promise<void>;
}

/** A single database session reserved for the lease. */
export interface LeaseConnection {
  /** Runs one statement (`$1`… parameters); rejects when it has not answered within `timeoutMs`. */
  query<T extends Record<string, unknown>>(text: string, params: readonly (string | number)[], timeoutMs: number): Promise<T[]>;
  /** False on PGlite: one in-process connection, so no other replica can take over. */
  readonly separate: boolean;
}

export interface OpenDatabaseOptions {
  /** PostgreSQL URL; PGlite in `dataDir` when absent. */
  url?: string | undefined;
  /** PGlite data directory; `memory://` for a throw-away database. */
  dataDir?: string;
  /**
   * PGlite: start from this dumped data directory (`dumpDataDir`) instead of an empty one. Tests
   * start every throw-away database from one migrated image: PGlite's own initialisation costs
   * seconds, loading an image a fraction of that.
   */
  pgliteImage?: Blob;
  /** Put the hub's tables in this schema (created if missing); tests use one per file. */
  schema?: string;
  /** The schema of Clouddriver's `accounts` table ("" = search path). PGlite creates the table. */
  clouddriverSchema?: string;
  /** Pool size for PostgreSQL. */
  maxConnections?: number;
  /**
   * PostgreSQL ends a session that sits idle inside a transaction this long, releasing its row
   * locks: a replica cut off from the database mid-batch must not block the peers that take over
   * its agents once its lease has run out. Keep it below `hub.leaseTtl`.
   */
  idleInTransactionTimeoutMs?: number;
}

const migrationsFolder = join(dirname(fileURLToPath(import.meta.url)), "migrations");

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** SQL that creates Clouddriver's table (clouddriver-sql's schema) where it is missing. */
export function clouddriverTableDdl(schemaName: string): string {
  const table = schemaName === "" ? "accounts" : `${quoteIdent(schemaName)}.accounts`;
  const create = schemaName === "" ? "" : `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schemaName)};\n`;
  return `${create}CREATE TABLE IF NOT EXISTS ${table} (
  id varchar(255) PRIMARY KEY,
  type varchar(50) NOT NULL,
  body jsonb NOT NULL,
  created_at bigint NOT NULL,
  last_modified_at bigint NOT NULL,
  last_modified_by varchar(255) NOT NULL
)`;
}

/**
 * Seconds before a closed PostgreSQL connection dials again, after `retries` connections of the
 * pool closed with an error since the last successful connect. postgres.js defaults to
 * 3^retries / 100 s capped at 20 s, and counts every connection of the pool: when a restart or a
 * failover ends the ten connections of a pool at once, every statement then waits 10–20 s for a
 * dial, longer than a lease. Doubling from 50 ms with a 1 s cap (and jitter, so that replicas do
 * not dial in step) keeps a dead server at one dial per connection per second.
 */
export function reconnectBackoff(retries: number): number {
  return (0.5 + Math.random() / 2) * Math.min(0.05 * 2 ** Math.min(retries, 10), 1);
}

/**
 * Opens PGlite (no URL) or PostgreSQL and applies the committed migrations. On PostgreSQL the
 * migration runs under an advisory lock so replicas starting together do not race.
 */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  const schemaName = options.schema ?? "";
  const migrationsSchema = schemaName === "" ? "drizzle" : schemaName;
  if (options.url === undefined || options.url === "") {
    const dataDir = options.dataDir ?? "./data";
    if (!dataDir.startsWith("memory://")) mkdirSync(dataDir, { recursive: true });
    const client = options.pgliteImage === undefined ? new PGlite(dataDir) : new PGlite({ dataDir, loadDataDir: options.pgliteImage });
    if (schemaName !== "") {
      await client.exec(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schemaName)}; SET search_path TO ${quoteIdent(schemaName)}`);
    }
    const pgliteDb = drizzlePglite(client, { schema });
    await migratePglite(pgliteDb, { migrationsFolder, migrationsSchema });
    const db: Db = pgliteDb;
    await client.exec(clouddriverTableDdl(options.clouddriverSchema ?? ""));
    return {
      db,
      kind: "pglite",
      schema: schemaName,
      rows: <T extends Record<string, unknown>>(query: SQL) => queryRows<T>(db, query),
      async listen(channel, onPayload) {
        const stop = await client.listen(channel, onPayload);
        return stop;
      },
      statementCounts: () => ({ statements: 0, notifies: 0 }),
      lease: {
        separate: false,
        query: async <T extends Record<string, unknown>>(text: string, params: readonly (string | number)[]) =>
          (await client.query<T>(text, [...params])).rows,
      },
      close: () => client.close(),
    };
  }
  const connection = {
    backoff: reconnectBackoff,
    connection: {
      // The hub's statements are short; JIT only adds compile time. The per-agent counts of the
      // engine's view are estimated past jit_above_cost: 250 ms of compiling for a statement
      // that ran in under 1 ms, twice per batch (a reconnect storm's batches took 1 s).
      jit: "off",
      ...(schemaName === "" ? {} : { search_path: schemaName }),
      ...(options.idleInTransactionTimeoutMs === undefined ? {} : { idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs }),
    },
  };
  // One session for the migration, so that its advisory lock covers every statement.
  const migrator = postgres(options.url, { max: 1, onnotice: () => {}, ...connection });
  try {
    if (schemaName !== "") await migrator.unsafe(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schemaName)}`);
    await migrator`SELECT pg_advisory_lock(7002001)`;
    await migratePostgres(drizzlePostgres(migrator, { schema }), { migrationsFolder, migrationsSchema });
    await migrator`SELECT pg_advisory_unlock(7002001)`;
  } finally {
    await migrator.end({ timeout: 5 });
  }
  const counts = { statements: 0, notifies: 0 };
  const count = (_connection: number, query: string) => {
    counts.statements++;
    if (query.includes("pg_notify")) counts.notifies++;
  };
  const client = postgres(options.url, { max: options.maxConnections ?? 10, onnotice: () => {}, debug: count, ...connection });
  const db: Db = drizzlePostgres(client, { schema });
  const lease = createLeaseConnection(() => postgres(options.url!, { max: 1, onnotice: () => {}, connect_timeout: 5, debug: count, ...connection }));

  return {
    db,
    kind: "postgres",
    schema: schemaName,
    rows: <T extends Record<string, unknown>>(query: SQL) => queryRows<T>(db, query),
    async listen(channel, onPayload) {
      const { unlisten } = await client.listen(channel, onPayload);
      return unlisten;
    },
    lease,
    statementCounts: () => ({ ...counts }),
    async close() {
      await lease.close();
      await client.end({ timeout: 5 });
    },
  };
}

/**
 * A one-session postgres.js client for the lease. A statement that misses its deadline is
 * cancelled and the session thrown away, so that the next renewal dials afresh instead of
 * queueing behind a socket that may never answer again.
 */
function createLeaseConnection(open: () => postgres.Sql): LeaseConnection & { close(): Promise<void> } {
  let client: postgres.Sql | undefined;
  const discard = (c: postgres.Sql) => {
    if (client === c) client = undefined;
    // Nothing waits for the old session: it either ends, or its socket is gone already.
    c.end({ timeout: 0 }).catch(() => {});
  };
  return {
    separate: true,
    async query<T extends Record<string, unknown>>(text: string, params: readonly (string | number)[], timeoutMs: number): Promise<T[]> {
      const c = (client ??= open());
      const pending = c.unsafe<T[]>(text, [...params]);
      let cancel: (() => void) | undefined;
      const deadline = new Promise<never>((_, reject) => {
        cancel = afterUnblocked(timeoutMs, () => reject(new Error(`the lease statement did not answer within ${timeoutMs} ms`)));
      });
      try {
        return await Promise.race([pending, deadline]);
      } catch (err) {
        pending.catch(() => {});
        discard(c);
        throw err;
      } finally {
        cancel?.();
      }
    },
    async close() {
      const c = client;
      client = undefined;
      await c?.end({ timeout: 1 });
    },
  };
}
