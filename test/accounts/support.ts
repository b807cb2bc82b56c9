import { asc, eq, sql } from "drizzle-orm";
import { expect } from "vitest";
import type { Answer } from "../support/rest.js";
import { insertClouddriverAccount } from "../../src/clouddriver/seed.js";
import type { AccountSource, AccountStatus } from "../../src/model/account-states.js";
import type { Database } from "../../src/store/database.js";
import { queryRows } from "../../src/store/query-rows.js";
import { accounts, agents, assignments, hubs } from "../../src/store/schema.js";

/** The error shape of design section 8, with the given code; returns the details. */
export function expectError(answer: Answer, status: number, code: string): Record<string, unknown>[] {
  expect(answer.status, answer.text).toBe(status);
  expect(answer.headers.get("content-type")).toMatch(/^application\/json/);
  const body = answer.json as { code: string; message: string; details: Record<string, unknown>[] };
  expect(body.code).toBe(code);
  expect(typeof body.message).toBe("string");
  expect(body.message.length).toBeGreaterThan(0);
  expect(Array.isArray(body.details)).toBe(true);
  return body.details;
}

/** Every `field` the error's details name. */
export function detailFields(details: Record<string, unknown>[]): string[] {
  return details.flatMap((d) => (typeof d.field === "string" ? [d.field] : []));
}

/** Every account name the error's details name. */
export function detailNames(details: Record<string, unknown>[]): string[] {
  return details.flatMap((d) => (Array.isArray(d.names) ? (d.names as string[]) : []));
}

/** All rows of kubesvc_accounts, by name. */
export function accountRows(database: Database) {
  return database.db.select().from(accounts).orderBy(asc(accounts.name));
}

/** One row of kubesvc_accounts. */
export async function accountRow(database: Database, name: string) {
  const [row] = await database.db.select().from(accounts).where(eq(accounts.name, name));
  return row;
}

/** Puts an account straight into the table, e.g. in a state only the hub could reach. */
export async function insertAccount(
  database: Database,
  row: { name: string; status?: AccountStatus; source?: AccountSource; origin?: string; zoneId?: string | null; definition?: Record<string, unknown>; failedCount?: number },
): Promise<void> {
  await database.db.insert(accounts).values({
    name: row.name,
    source: row.source ?? "clouddriver",
    origin: row.origin ?? "created",
    status: row.status ?? "INACTIVE",
    zoneId: row.zoneId ?? null,
    definition: row.definition ?? { name: row.name, kubeconfigFile: "/k/config" },
    failedCount: row.failedCount ?? 0,
  });
}

/** Moves an account to a state as the hub would. */
export async function setStatus(database: Database, name: string, status: AccountStatus, failedCount = 0): Promise<void> {
  await database.db
    .update(accounts)
    .set({ status, failedCount, version: sql`${accounts.version} + 1` })
    .where(eq(accounts.name, name));
}

/** Puts an account into Clouddriver's table (in the test's schema). */
export function seedClouddriver(database: Database, name: string, body: Record<string, unknown> = {}, type = "kubernetes"): Promise<void> {
  return insertClouddriverAccount(database, "", { name, type, body });
}

/** Clouddriver's table as it is, every column as text, to prove the hub never wrote it. */
export function clouddriverSnapshot(database: Database) {
  return queryRows(
    database.db,
    sql`SELECT id, type, body::text AS body, created_at::text AS created_at, last_modified_at::text AS last_modified_at, last_modified_by
        FROM accounts ORDER BY id`,
  );
}

/** Registers a connected agent held by another (live) replica, with its assignments. */
export async function insertAgent(database: Database, agentId: string, zoneId: string, held: { account: string; caching: boolean; reachable?: boolean }[]): Promise<void> {
  const hubId = "other-replica";
  // A lease far in the future, so that no hub treats the fake replica as dead during the test.
  await database.db
    .insert(hubs)
    .values({ hubId, lastHeartbeat: new Date(Date.now() + 3_600_000) })
    .onConflictDoNothing();
  await database.db.insert(agents).values({ agentId, zoneId, hubId, connectedAt: new Date("2024-05-06T07:08:09.010Z") });
  for (const h of held) {
    await database.db.insert(assignments).values({ accountName: h.account, agentId, hubId, caching: h.caching, reachable: h.reachable ?? true });
  }
}
