// A hub whose `clouddriver.schema` names a schema without Clouddriver's table (as on PostgreSQL
// before Clouddriver created it, or with a wrong setting): migrate says which table is missing,
// everything else keeps working, autoscan's timer keeps ticking harmlessly and picks rows up once
// the table appears. The interceptor is off here, as by default.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accountRow, accountRows, detailNames, expectError } from "../accounts/support.js";
import { call } from "../support/rest.js";
import { eventually } from "../support/eventually.js";
import { DATABASE_KINDS } from "../support/databases.js";
import { startTestHub, type TestHub } from "../support/hub.js";
import { createClouddriverTable, uniqueSchema, type ClouddriverTable } from "./support.js";

describe.each(DATABASE_KINDS)("without Clouddriver's table on %s", (kind) => {
  let hub: TestHub;
  let cd: ClouddriverTable | undefined;
  const schema = uniqueSchema("absent");

  beforeAll(async () => {
    hub = await startTestHub(kind, { "clouddriver.schema": schema, "autoscan.enabled": true, "autoscan.frequency": "100ms" });
  });
  afterAll(async () => {
    await hub.stop();
    await cd?.drop();
  });

  it("migrate → 400 failed_precondition naming the table and the accounts; nothing written", async () => {
    const answer = await call(hub, "POST", "/armory/accounts", [{ name: "a" }, { name: "b" }]);
    const details = expectError(answer, 400, "failed_precondition");
    expect((answer.json as { message: string }).message).toContain(`Clouddriver's accounts table "${schema}.accounts" does not exist`);
    expect(detailNames(details)).toEqual(["a", "b"]);
    expect(await accountRows(hub.app.database)).toEqual([]);
  });

  it("a bad migrate body is still a 400 invalid_argument about the body", async () => {
    expectError(await call(hub, "POST", "/armory/accounts", []), 400, "invalid_argument");
  });

  it("every other endpoint keeps working while autoscan ticks", async () => {
    expect((await call(hub, "POST", "/armory/accounts/dynamic", { name: "made-here", kubeconfigFile: "/k" })).status).toBe(202);
    expect((await call(hub, "PUT", "/armory/accounts/dynamic", { name: "made-here", kubeconfigFile: "/k/2" })).status).toBe(202);
    expect((await call(hub, "PATCH", "/armory/accounts", [{ name: "made-here", state: "ACTIVE" }])).status).toBe(202);
    expect((await call(hub, "GET", "/armory/accounts")).json).toMatchObject({ total: 1, items: [{ name: "made-here" }] });
    expect((await call(hub, "GET", "/armory/accounts/nobody")).status).toBe(404);
    expect((await call(hub, "GET", "/agents/kubernetes/accounts/nobody")).json).toEqual({});
    expect((await call(hub, "GET", "/armory/agents")).status).toBe(200);
    expect((await call(hub, "DELETE", "/armory/accounts", ["made-here"])).status).toBe(202);
    await eventually(async () => expect((await call(hub, "GET", "/armory/accounts/made-here")).status).toBe(404));
    // Autoscan's 100 ms timer has been ticking on the missing table meanwhile; the hub still answers.
    expect((await call(hub, "GET", "/armory/accounts")).status).toBe(200);
  });

  it("with the interceptor off, /credentials does not exist (404)", async () => {
    for (const method of ["POST", "PUT"]) {
      const answer = await call(hub, method, "/credentials", { type: "kubernetes", name: "x", kubeconfigFile: "/k" });
      expectError(answer, 404, "not_found");
    }
  });

  it("once Clouddriver creates its table, the autoscan timer migrates and activates its rows", async () => {
    cd = await createClouddriverTable(hub.app.database, schema);
    await cd.put("found-by-timer", { kubeconfigFile: "/k" }, "kubernetes:agent");
    // No agent is connected, so activation ends ORPHANED: proof that the tick also activated it.
    const shown = await eventually(async () => {
      const a = (await call(hub, "GET", "/armory/accounts/found-by-timer")).json as { status: string; lastAssignmentMsg: string };
      expect(a.status).toBe("ORPHANED");
      return a;
    });
    expect(shown.status).toBe("ORPHANED");
    expect(await accountRow(hub.app.database, "found-by-timer")).toMatchObject({ origin: "autoscan" });

    await cd.put("migrate-me", { kubeconfigFile: "/k" });
    expect((await call(hub, "POST", "/armory/accounts", [{ name: "migrate-me" }])).status).toBe(202);
  });
});
