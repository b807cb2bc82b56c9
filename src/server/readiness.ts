import { sql } from "drizzle-orm";
import type { Database } from "../store/database.js";

/** Whether this replica should receive traffic, and if not, why (in operator words). */
export interface ReadyState {
  ready: boolean;
  reason: string;
}

/** `/readyz` and grpc.health: the database answers and the lease is held (design section 16). */
export interface Readiness {
  check(): Promise<ReadyState>;
}

export interface ReadinessDeps {
  database: Database;
  /** Whether the replica's lease is current. */
  leaseHeld(): boolean;
  /** Aborted when the process shuts down: not ready from then on. */
  shutdown: AbortSignal;
  /** A database that has not answered `SELECT 1` within this long counts as down. */
  timeoutMs?: number;
}

/**
 * Creates the readiness check. At most one `SELECT 1` is in flight at a time: during an outage
 * the driver may hold a query for its whole connect timeout, and probes every few seconds must not
 * pile more of them up behind it; every check waits for that one query, up to `timeoutMs`.
 */
export function createReadiness(deps: ReadinessDeps): Readiness {
  const timeoutMs = deps.timeoutMs ?? 2_000;
  let ping: Promise<boolean> | undefined;

  function databaseAnswers(): Promise<boolean> {
    ping ??= deps.database
      .rows(sql`SELECT 1 AS ok`)
      .then(
        () => true,
        () => false,
      )
      .finally(() => (ping = undefined));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    return Promise.race([ping, late]).finally(() => clearTimeout(timer));
  }

  return {
    async check() {
      if (deps.shutdown.aborted) return { ready: false, reason: "the hub is shutting down" };
      if (!(await databaseAnswers())) return { ready: false, reason: `the database did not answer within ${timeoutMs} ms` };
      if (!deps.leaseHeld()) return { ready: false, reason: "this replica does not hold its lease" };
      return { ready: true, reason: "" };
    },
  };
}
