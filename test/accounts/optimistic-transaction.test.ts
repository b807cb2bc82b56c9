import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inAccountTransaction } from "../../src/accounts/optimistic-transaction.js";
import { StaleAccountsError } from "../../src/store/account-store.js";
import { openTestDatabase } from "../support/databases.js";

describe("an account transaction that loses races", () => {
  let database: Awaited<ReturnType<typeof openTestDatabase>>;
  beforeAll(async () => {
    database = await openTestDatabase("pglite");
  });
  afterAll(async () => {
    await database.close();
  });

  it("is run again on fresh rows, and goes through when a later attempt wins", async () => {
    let attempts = 0;
    const result = await inAccountTransaction(database, async () => {
      attempts++;
      if (attempts < 6) throw new StaleAccountsError(["a"]);
      return "done";
    });
    expect(result).toBe("done");
    expect(attempts).toBe(6);
  });

  it("answers aborted (409) naming the accounts once every attempt lost", async () => {
    let attempts = 0;
    const failure = await inAccountTransaction(database, async () => {
      attempts++;
      throw new StaleAccountsError(["a", "b"]);
    }).catch((err: unknown) => err);
    expect(attempts).toBe(8);
    expect(failure).toBeInstanceOf(ConnectError);
    expect((failure as ConnectError).code).toBe(Code.Aborted);
    expect((failure as ConnectError).message).toContain("changed by someone else");
  });

  it("passes any other error through at once", async () => {
    let attempts = 0;
    const failure = await inAccountTransaction(database, async () => {
      attempts++;
      throw new Error("refused");
    }).catch((err: unknown) => err);
    expect(attempts).toBe(1);
    expect((failure as Error).message).toBe("refused");
  });
});
