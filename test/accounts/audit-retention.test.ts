import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAuditRetention } from "../../src/accounts/audit-retention.js";
import { createLogger } from "../../src/log/logger.js";
import { setTransactionActor } from "../../src/store/audit-actor.js";
import { queryRows } from "../../src/store/query-rows.js";
import { DATABASE_KINDS, openTestDatabase } from "../support/databases.js";

describe.each(DATABASE_KINDS)("audit records on %s", (kind) => {
  let database: Awaited<ReturnType<typeof openTestDatabase>>;
  beforeAll(async () => {
    database = await openTestDatabase(kind);
  });
  afterAll(async () => {
    await database.close();
    await database.dropSchema();
  });

  const events = () => queryRows<{ account_name: string; actor: string; action: string }>(database.db, sql`SELECT account_name, actor, action FROM kubesvc_account_events ORDER BY id`);

  it("are written in the change's transaction, with its actor, and vanish with its rollback", async () => {
    await database.db.transaction(async (tx) => {
      await setTransactionActor(tx, "ci");
      await tx.execute(sql`INSERT INTO kubesvc_accounts (name, source, origin, status, definition) VALUES ('kept', 'clouddriver', 'created', 'INACTIVE', '{}')`);
    });
    await expect(
      database.db.transaction(async (tx) => {
        await tx.execute(sql`INSERT INTO kubesvc_accounts (name, source, origin, status, definition) VALUES ('rolled-back', 'clouddriver', 'created', 'INACTIVE', '{}')`);
        throw new Error("roll back");
      }),
    ).rejects.toThrow("roll back");
    await database.db.execute(sql`UPDATE kubesvc_accounts SET status = 'ACTIVATING'`);
    expect(await events()).toEqual([
      { account_name: "kept", actor: "ci", action: "create" },
      { account_name: "kept", actor: "hub", action: "status" },
    ]);
  });

  it("older than audit.retention are pruned", async () => {
    await database.db.execute(sql`UPDATE kubesvc_account_events SET at = now() - interval '31 days' WHERE action = 'create'`);
    const retention = createAuditRetention({ database, retentionMs: 30 * 86_400_000, logger: createLogger("silent") });
    expect(await retention.pruneOnce()).toBe(1);
    expect(await events()).toEqual([{ account_name: "kept", actor: "hub", action: "status" }]);
    expect(await retention.pruneOnce()).toBe(0);
  });
});
