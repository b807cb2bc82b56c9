// The accounts query layer and Clouddriver's table reader, on both databases.
import { Code, ConnectError } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inAccountTransaction } from "../../src/accounts/optimistic-transaction.js";
import { createClouddriverAccounts } from "../../src/store/clouddriver-accounts.js";
import { insertClouddriverAccount } from "../../src/clouddriver/seed.js";
import { createAccountStore, StaleAccountsError, type AccountRow, type AccountUpdate, type NewAccount } from "../../src/store/account-store.js";
import { queryRows } from "../../src/store/query-rows.js";
import { agents, assignments, hubs } from "../../src/store/schema.js";
import { DATABASE_KINDS, POSTGRES_URL, openTestDatabase } from "../support/databases.js";

type TestDatabase = Awaited<ReturnType<typeof openTestDatabase>>;

function newAccount(name: string, extra: Partial<NewAccount> = {}): NewAccount {
  return {
    name,
    source: "clouddriver",
    origin: "created",
    status: "INACTIVE",
    zoneId: null,
    definition: { name, kubeconfigFile: "/k" },
    agentDefinition: null,
    clouddriverLastModified: null,
    ...extra,
  };
}

function updateOf(row: AccountRow, change: Partial<AccountUpdate>): AccountUpdate {
  return {
    name: row.name,
    expectedVersion: row.version,
    expectedStatus: row.status,
    status: row.status,
    zoneId: row.zoneId,
    definition: row.definition,
    agentDefinition: row.agentDefinition,
    failedCount: row.failedCount,
    ...change,
  };
}

describe.each(DATABASE_KINDS)("account store on %s", (kind) => {
  let database: TestDatabase;
  const store = () => createAccountStore(database.db);

  beforeAll(async () => {
    database = await openTestDatabase(kind);
  });
  afterAll(async () => {
    await database.close();
    await database.dropSchema();
  });

  it("keeps the listing's total exact through inserts, deletes and rolled-back transactions", async () => {
    const countRows = async () =>
      Number((await queryRows<{ n: string }>(database.db, sql`SELECT count(*)::text AS n FROM kubesvc_accounts`))[0]!.n);
    const totalNow = async () => (await store().listPage(0, 1)).total;
    const before = await countRows();
    expect(await totalNow()).toBe(before);
    await store().insertNew(Array.from({ length: 7 }, (_, i) => newAccount(`cnt-${i}`)));
    expect(await totalNow()).toBe(before + 7);
    await database.db.execute(sql`DELETE FROM kubesvc_accounts WHERE name IN ('cnt-0', 'cnt-1', 'cnt-2')`);
    expect(await totalNow()).toBe(before + 4);
    await expect(
      database.db.transaction(async (tx) => {
        await createAccountStore(tx).insertNew([newAccount("cnt-rolled-back")]);
        throw new Error("roll back");
      }),
    ).rejects.toThrow("roll back");
    expect(await totalNow()).toBe(before + 4);
    await database.db.execute(sql`DELETE FROM kubesvc_accounts WHERE name LIKE 'cnt-%'`);
    expect(await totalNow()).toBe(before);
    expect(await totalNow()).toBe(await countRows());
  });

  it("inserts new accounts, skips taken names, and finds them by name", async () => {
    expect(await store().insertNew([newAccount("s-a"), newAccount("s-b", { zoneId: "z", status: "INACTIVE" })])).toEqual(["s-a", "s-b"]);
    expect(await store().insertNew([newAccount("s-a"), newAccount("s-c")])).toEqual(["s-c"]);
    const found = await store().findByNames(["s-b", "nobody", "s-a"]);
    expect(found.map((r) => r.name).sort()).toEqual(["s-a", "s-b"]);
    const b = (await store().findByName("s-b"))!;
    expect(b).toMatchObject({ type: "kubernetes", zoneId: "z", version: 1, failedCount: 0, lastAssignmentMsg: "", definition: { name: "s-b", kubeconfigFile: "/k" } });
    expect(await store().findByName("nobody")).toBeUndefined();
    expect(await store().findByNames([])).toEqual([]);
  });

  it("inserts more rows than one statement's chunk", async () => {
    const many = Array.from({ length: 2100 }, (_, i) => newAccount(`bulk-${String(i).padStart(4, "0")}`));
    expect(await store().insertNew(many)).toHaveLength(2100);
    expect(await store().findByNames(many.map((m) => m.name))).toHaveLength(2100);
  });

  it("lists a page in byte order of names with the total", async () => {
    await store().insertNew(["Zed", "zed", "Ä-umlaut", "a b", "a-b", "a_b"].map((n) => newAccount(n)));
    const all = await store().listPage(0, 5000);
    const names = all.rows.map((r) => r.name);
    expect(names).toEqual([...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
    expect(all.total).toBe(names.length);
    const page = await store().listPage(2, 3);
    expect(page.rows.map((r) => r.name)).toEqual(names.slice(2, 5));
    expect(page.total).toBe(names.length);
  });

  it("applies guarded updates in one statement and bumps the version", async () => {
    const [a, c] = await store().findByNames(["s-a", "s-c"]).then((rows) => rows.sort((x, y) => x.name.localeCompare(y.name)));
    await store().applyUpdates([
      updateOf(a!, { status: "ACTIVATING", failedCount: 0, zoneId: "z1", definition: { name: "s-a", zoneId: "z1", n: [1, { deep: true }] } }),
      updateOf(c!, { status: "DELETING", agentDefinition: { name: "s-c", kubeconfigFile: "/agent" } }),
    ]);
    expect(await store().findByName("s-a")).toMatchObject({ status: "ACTIVATING", zoneId: "z1", version: a!.version + 1, definition: { name: "s-a", zoneId: "z1", n: [1, { deep: true }] } });
    expect(await store().findByName("s-c")).toMatchObject({ status: "DELETING", version: c!.version + 1, agentDefinition: { name: "s-c", kubeconfigFile: "/agent" } });
  });

  it("refuses updates whose version or status moved on, naming them; the transaction writes nothing", async () => {
    const a = (await store().findByName("s-a"))!;
    const b = (await store().findByName("s-b"))!;
    const attempt = database.db.transaction(async (tx) => {
      await createAccountStore(tx).applyUpdates([
        updateOf(b, { status: "ACTIVATING" }),
        updateOf(a, { expectedVersion: a.version - 1, status: "INACTIVE" }),
      ]);
    });
    await expect(attempt).rejects.toThrow(StaleAccountsError);
    await expect(attempt).rejects.toMatchObject({ names: ["s-a"] });
    const wrongStatus = database.db.transaction((tx) => createAccountStore(tx).applyUpdates([updateOf(b, { expectedStatus: "ACTIVE", status: "FAILED" })]));
    await expect(wrongStatus).rejects.toMatchObject({ names: ["s-b"] });
    expect(await store().findByName("s-b")).toEqual(b);
    expect(await store().findByName("s-a")).toEqual(a);
  });

  it("runs a transaction that lost a race again on fresh rows", async () => {
    let attempts = 0;
    await inAccountTransaction(database, async (tx) => {
      attempts++;
      const s = createAccountStore(tx);
      const row = (await s.findByName("s-b"))!;
      // The first time, someone else changes the row between the read and the write.
      if (attempts === 1) await tx.execute(sql`UPDATE kubesvc_accounts SET version = version + 1 WHERE name = 's-b'`);
      await s.applyUpdates([updateOf(row, { status: "TO_DEACTIVATE" })]);
    });
    expect(attempts).toBe(2);
    expect((await store().findByName("s-b"))!.status).toBe("TO_DEACTIVATE");
  });

  it("gives up after eight lost races with 409 aborted naming the accounts", async () => {
    let attempts = 0;
    const err = await inAccountTransaction(database, async (tx) => {
      attempts++;
      const s = createAccountStore(tx);
      const row = (await s.findByName("s-b"))!;
      await tx.execute(sql`UPDATE kubesvc_accounts SET version = version + 1 WHERE name = 's-b'`);
      await s.applyUpdates([updateOf(row, { status: "INACTIVE" })]);
    }).catch((e: unknown) => e);
    expect(attempts).toBe(8);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.Aborted);
    expect((err as ConnectError).rawMessage).toContain("s-b");
    expect((await store().findByName("s-b"))!.status).toBe("TO_DEACTIVATE");
  });

  it("lists reachable holders sorted by agent, and agents with their counts", async () => {
    await store().insertNew([newAccount("h-1"), newAccount("h-2")]);
    await database.db.insert(hubs).values({ hubId: "hub-1" });
    await database.db.insert(agents).values([
      { agentId: "b-agent", zoneId: "z", hubId: "hub-1", connectedAt: new Date("2024-01-02T03:04:05.006Z") },
      { agentId: "A-agent", zoneId: "", hubId: "hub-1" },
      { agentId: "idle", zoneId: "z", hubId: "hub-1" },
    ]);
    await database.db.insert(assignments).values([
      { accountName: "h-1", agentId: "b-agent", hubId: "hub-1", caching: false },
      { accountName: "h-1", agentId: "A-agent", hubId: "hub-1", caching: true },
      { accountName: "h-2", agentId: "b-agent", hubId: "hub-1", caching: true },
      { accountName: "h-2", agentId: "A-agent", hubId: "hub-1", caching: false, reachable: false },
    ]);
    const holders = await store().holdersOf(["h-1", "h-2", "s-a"]);
    expect(Object.fromEntries(holders)).toEqual({
      "h-1": [
        { agentId: "A-agent", caching: true },
        { agentId: "b-agent", caching: false },
      ],
      "h-2": [{ agentId: "b-agent", caching: true }],
    });
    const listed = await store().listAgents();
    expect(listed.map((a) => [a.agentId, a.accounts, a.caching])).toEqual([
      ["A-agent", 1, 1],
      ["b-agent", 2, 1],
      ["idle", 0, 0],
    ]);
    expect(listed[1]!.connectedAt).toEqual(new Date("2024-01-02T03:04:05.006Z"));
    expect(listed[0]!.lastHeartbeat).toBeInstanceOf(Date);
  });

  describe("Clouddriver's table", () => {
    const reader = () => createClouddriverAccounts(database.db, "");

    it("reads rows by id, with body and last_modified_at; the seed helper inserts or replaces", async () => {
      await insertClouddriverAccount(database, "", { name: "cd-x", body: { kubeconfigFile: "/x", token: "t" } });
      await insertClouddriverAccount(database, database.schema, { name: "cd-y", type: "kubernetes:agent", body: { name: "cd-y", zoneId: "z" } });
      const found = await reader().findByNames(["cd-x", "cd-y", "nobody"]);
      expect([...found.keys()].sort()).toEqual(["cd-x", "cd-y"]);
      const x = found.get("cd-x")!;
      expect(x).toMatchObject({ name: "cd-x", type: "kubernetes", body: { name: "cd-x", type: "kubernetes", kubeconfigFile: "/x", token: "t" } });
      expect(Number.isSafeInteger(x.lastModifiedAt)).toBe(true);
      expect(found.get("cd-y")).toMatchObject({ type: "kubernetes:agent", body: { name: "cd-y", type: "kubernetes:agent", zoneId: "z" } });

      await insertClouddriverAccount(database, "", { name: "cd-x", body: { kubeconfigFile: "/x2" } });
      expect((await reader().findByName("cd-x"))!.body).toEqual({ name: "cd-x", type: "kubernetes", kubeconfigFile: "/x2" });
      expect(await reader().findByName("nobody")).toBeUndefined();
    });

    it("reads a body that is not an object as {}", async () => {
      await database.db.execute(sql`INSERT INTO accounts VALUES ('cd-odd', 'kubernetes', '[1,2]'::jsonb, 1, 1700000000123, 'x')`);
      expect(await reader().findByName("cd-odd")).toEqual({ name: "cd-odd", type: "kubernetes", body: {}, lastModifiedAt: 1700000000123 });
    });

    it("reads a missing table as empty, even inside a transaction", async () => {
      const missing = createClouddriverAccounts(database.db, "no_clouddriver_here");
      expect(await missing.findByName("cd-x")).toBeUndefined();
      const inTx = await database.db.transaction(async (tx) => {
        const found = await createClouddriverAccounts(tx, "no_clouddriver_here").findByNames(["cd-x"]);
        // The transaction is still usable afterwards.
        const [row] = await queryRows<{ one: number }>(tx, sql`SELECT 1 AS one`);
        return { size: found.size, one: Number(row!.one) };
      });
      expect(inTx).toEqual({ size: 0, one: 1 });
    });
  });
});

describe("optimistic concurrency against a real concurrent writer (PostgreSQL)", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await openTestDatabase("postgres");
    await createAccountStore(database.db).insertNew([newAccount("contended")]);
  });
  afterAll(async () => {
    await database.close();
    await database.dropSchema();
  });

  it("a row changed by another session between read and write makes the transaction run again", async () => {
    const other = postgres(POSTGRES_URL, { max: 1, onnotice: () => {}, connection: { search_path: database.schema } });
    try {
      const reserved = await other.reserve();
      await reserved`BEGIN`;
      await reserved`UPDATE kubesvc_accounts SET status = 'FAILED', version = version + 1 WHERE name = 'contended'`;
      let attempts = 0;
      let readOnce: () => void = () => {};
      const read = new Promise<void>((resolve) => (readOnce = resolve));
      const work = inAccountTransaction(database, async (tx) => {
        attempts++;
        const s = createAccountStore(tx);
        const row = (await s.findByName("contended"))!;
        readOnce();
        // Blocks on the other session's row lock, then finds the version moved on.
        await s.applyUpdates([updateOf(row, { status: "ACTIVATING" })]);
        return row.status;
      });
      await read;
      await reserved`COMMIT`;
      reserved.release();
      // The second attempt read the other session's FAILED and updated from there.
      expect(await work).toBe("FAILED");
      expect(attempts).toBe(2);
      expect(await createAccountStore(database.db).findByName("contended")).toMatchObject({ status: "ACTIVATING", version: 3 });
    } finally {
      await other.end();
    }
  });
});
