import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngineStore } from "../../src/hub/engine-store.js";
import { AccountSource, AccountStatus } from "../../src/model/account-states.js";
import { accounts, assignments } from "../../src/store/schema.js";
import { DATABASE_KINDS, openTestDatabase } from "../support/databases.js";

describe.each(DATABASE_KINDS)("engine store on %s", (kind) => {
  let db: Awaited<ReturnType<typeof openTestDatabase>>;
  beforeAll(async () => {
    db = await openTestDatabase(kind);
    const account = (name: string, status: AccountStatus, source: AccountSource = AccountSource.CLOUDDRIVER) => ({ name, status, source, origin: "test", definition: { name } });
    await db.db.insert(accounts).values([
      account("one-holder", AccountStatus.ACTIVE),
      account("full", AccountStatus.ACTIVE),
      account("activating", AccountStatus.ACTIVATING),
      account("inactive", AccountStatus.INACTIVE),
      account("static-many", AccountStatus.ACTIVE, AccountSource.STATIC),
      account("elsewhere", AccountStatus.ACTIVE),
    ]);
    const held = (accountName: string, agentIds: string[]) => agentIds.map((agentId) => ({ accountName, agentId, hubId: "h" }));
    await db.db.insert(assignments).values([
      ...held("one-holder", ["m1"]),
      ...held("full", ["m1", "m2", "m3"]),
      ...held("activating", ["m2", "x4"]),
      ...held("inactive", ["m1"]),
      ...held("static-many", ["m1", "m2", "x1", "x2", "x3", "x4", "x5"]),
      ...held("elsewhere", ["x9"]),
    ]);
  });
  afterAll(async () => {
    await db.close();
    await db.dropSchema();
  });

  it("servedBy: ACTIVE or ACTIVATING accounts the agents hold with fewer than maxHolders holders in all; every one when maxHolders is 0", async () => {
    const store = createEngineStore(db.db, "h");
    expect((await store.servedBy(["m1", "m2"], 3)).sort()).toEqual(["activating", "one-holder"]);
    expect((await store.servedBy(["m1", "m2"], 8)).sort()).toEqual(["activating", "full", "one-holder", "static-many"]);
    expect((await store.servedBy(["m1", "m2"], 0)).sort()).toEqual(["activating", "full", "one-holder", "static-many"]);
    expect((await store.servedBy(["x9"], 1)).sort()).toEqual([]);
    expect((await store.servedBy(["x9"], 2)).sort()).toEqual(["elsewhere"]);
    expect(await store.servedBy([], 3)).toEqual([]);
  });
});
