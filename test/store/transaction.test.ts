// The store's two plumbing helpers, on both drivers: rows of a raw statement, and a transaction;
// and the session settings of PostgreSQL connections.
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queryRows } from "../../src/store/query-rows.js";
import { inTransaction } from "../../src/store/transaction.js";
import { DATABASE_KINDS, openTestDatabase } from "../support/databases.js";

type TestDatabase = Awaited<ReturnType<typeof openTestDatabase>>;

describe.each(DATABASE_KINDS)("queryRows and inTransaction on %s", (kind) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await openTestDatabase(kind);
  });
  afterAll(async () => {
    await database.close();
    await database.dropSchema();
  });
  const names = async () => (await database.rows<{ name: string }>(sql`SELECT name FROM kubesvc_accounts WHERE name LIKE 'tx-%' ORDER BY name`)).map((r) => r.name);
  const insert = (name: string) =>
    sql`INSERT INTO kubesvc_accounts (name, source, origin, status, definition) VALUES (${name}, 'clouddriver', 'created', 'INACTIVE', ${JSON.stringify({ name })}::jsonb)`;

  it("reads rows the same way from the database and from a transaction, whichever the driver", async () => {
    const direct = await queryRows<{ n: number; word: string }>(database.db, sql`SELECT 2::int AS n, 'two' AS word UNION ALL SELECT 3, 'three' ORDER BY n`);
    expect(direct).toEqual([
      { n: 2, word: "two" },
      { n: 3, word: "three" },
    ]);
    expect(await database.rows(sql`SELECT 1 AS one WHERE false`)).toEqual([]);
    const inside = await inTransaction(database, (tx) => queryRows<{ n: number }>(tx, sql`SELECT 7::int AS n`));
    expect(inside).toEqual([{ n: 7 }]);
  });

  it("commits what the work wrote and returns its result; rolls all of it back when the work throws", async () => {
    const result = await inTransaction(database, async (tx) => {
      await tx.execute(insert("tx-kept"));
      return (await queryRows<{ n: number }>(tx, sql`SELECT count(*)::int AS n FROM kubesvc_accounts WHERE name LIKE 'tx-%'`))[0]?.n;
    });
    expect(result).toBe(1);
    const failed = inTransaction(database, async (tx) => {
      await tx.execute(insert("tx-lost"));
      throw new Error("changed my mind");
    });
    await expect(failed).rejects.toThrow("changed my mind");
    expect(await names()).toEqual(["tx-kept"]);
  });

});

describe("PostgreSQL sessions of the hub", () => {
  it("run without JIT compilation, in transactions too (short statements only pay its compile time)", async () => {
    const database = await openTestDatabase("postgres");
    try {
      expect(await database.rows(sql`SHOW jit`)).toEqual([{ jit: "off" }]);
      expect(await inTransaction(database, (tx) => queryRows(tx, sql`SHOW jit`))).toEqual([{ jit: "off" }]);
    } finally {
      await database.close();
      await database.dropSchema();
    }
  });
});
