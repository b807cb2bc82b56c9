// The account vocabulary (src/model/account-states.ts) and where stored values are checked: every
// row read through the schema's status and source columns, on both databases.
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isDataRefusal } from "../../src/hub/batch-splitter.js";
import { createEngineStore } from "../../src/hub/engine-store.js";
import {
  ACCOUNT_SOURCES,
  ACCOUNT_STATUSES,
  isAccountSource,
  isAccountStatus,
  parseAccountSource,
  parseAccountStatus,
  UnknownAccountValueError,
} from "../../src/model/account-states.js";
import { createAccountStore } from "../../src/store/account-store.js";
import { DATABASE_KINDS, openTestDatabase } from "../support/databases.js";

describe("account states and sources", () => {
  it("names the design's nine states and two sources", () => {
    expect(ACCOUNT_STATUSES).toEqual(["INACTIVE", "ACTIVE", "FAILED", "ORPHANED", "TO_MIGRATE", "ACTIVATING", "TO_DEACTIVATE", "DEACTIVATING", "DELETING"]);
    expect(ACCOUNT_SOURCES).toEqual(["clouddriver", "static-agent-config"]);
  });

  it.each([
    ["ACTIVE", true],
    ["active", false],
    ["DELETED", false],
    ["", false],
    [3, false],
    [undefined, false],
  ])("isAccountStatus(%j) is %s", (value, expected) => {
    expect(isAccountStatus(value)).toBe(expected);
  });

  it.each([
    ["static-agent-config", true],
    ["clouddriver", true],
    ["static", false],
    [null, false],
  ])("isAccountSource(%j) is %s", (value, expected) => {
    expect(isAccountSource(value)).toBe(expected);
  });

  it("parses known values and refuses others with a typed error naming the field and the value", () => {
    expect(parseAccountStatus("ORPHANED")).toBe("ORPHANED");
    expect(parseAccountSource("clouddriver")).toBe("clouddriver");
    const status = (() => {
      try {
        parseAccountStatus("PAUSED");
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(status).toBeInstanceOf(UnknownAccountValueError);
    expect(status).toMatchObject({ field: "status", value: "PAUSED", message: expect.stringContaining('unknown account status "PAUSED"') as unknown });
    expect(() => parseAccountSource("agent")).toThrow(/unknown account source "agent"; known: clouddriver, static-agent-config/);
  });

  it("is a data refusal to the engine, so that only the event that read such a row fails", () => {
    expect(isDataRefusal(new UnknownAccountValueError("status", "PAUSED"))).toBe(true);
  });
});

describe.each(DATABASE_KINDS)("stored states and sources on %s", (kind) => {
  let database: Awaited<ReturnType<typeof openTestDatabase>>;

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    // Rows another program could have written: the hub's own writes are typed and cannot.
    await database.db.execute(sql`
      INSERT INTO kubesvc_accounts (name, source, origin, status, definition) VALUES
        ('fine', 'clouddriver', 'created', 'ACTIVE', '{}'::jsonb),
        ('bad-status', 'clouddriver', 'created', 'PAUSED', '{}'::jsonb),
        ('bad-source', 'elsewhere', 'created', 'INACTIVE', '{}'::jsonb)`);
  });
  afterAll(async () => {
    await database.close();
    await database.dropSchema();
  });

  it("reads known values as they are", async () => {
    const row = await createAccountStore(database.db).findByName("fine");
    expect(row).toMatchObject({ status: "ACTIVE", source: "clouddriver" });
  });

  it.each([
    ["bad-status", "status", "PAUSED"],
    ["bad-source", "source", "elsewhere"],
  ])("refuses %s when the API reads it", async (name, field, value) => {
    await expect(createAccountStore(database.db).findByName(name)).rejects.toMatchObject({ name: "UnknownAccountValueError", field, value });
  });

  it("refuses an unknown status when the engine locks the row", async () => {
    const read = database.db.transaction((tx) => createEngineStore(tx, "hub-1").lockAccounts(["bad-status"]));
    await expect(read).rejects.toBeInstanceOf(UnknownAccountValueError);
    await expect(read.catch((err: unknown) => isDataRefusal(err))).resolves.toBe(true);
  });
});
