// dynamicAccounts.enabled: false (or the plugin's kubesvc.dynamicAccounts.enabled) turns every
// accounts endpoint into 501 except the two account listings and the agent listing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASE_KINDS } from "../support/databases.js";
import { startTestHub, type TestHub } from "../support/hub.js";
import { accountRows, call, clouddriverSnapshot, expectError, insertAccount, seedClouddriver } from "./support.js";

// The alias is read by the configuration, not the database: once (on the faster-starting PostgreSQL) is enough.
const CASES = [...DATABASE_KINDS.map((kind) => [kind, "dynamicAccounts.enabled"] as const), ["postgres", "kubesvc.dynamicAccounts.enabled"] as const];

describe.each(CASES)("with dynamic accounts disabled on %s (%s: false)", (kind, key) => {
  let hub: TestHub;
  const db = () => hub.app.database;

  beforeAll(async () => {
    hub = await startTestHub(kind, { [key]: false });
    await insertAccount(db(), { name: "existing", status: "INACTIVE" });
    await seedClouddriver(db(), "cd-only");
  });
  afterAll(async () => {
    await hub.stop();
  });

  it.each([
    ["POST", "/armory/accounts", [{ name: "cd-only" }]],
    ["PATCH", "/armory/accounts", [{ name: "existing", state: "ACTIVE" }]],
    ["PATCH", "/armory/accounts/dynamic", [{ name: "existing", state: "ACTIVE" }]],
    ["DELETE", "/armory/accounts", ["existing"]],
    ["POST", "/armory/accounts/dynamic", { name: "new-one", serviceAccount: true }],
    ["PUT", "/armory/accounts/dynamic", { name: "existing", serviceAccount: true }],
    ["GET", "/agents/kubernetes/accounts/existing", undefined],
  ])("%s %s → 501 unimplemented, nothing written", async (method, path, body) => {
    const rows = await accountRows(db());
    const clouddriver = await clouddriverSnapshot(db());
    expectError(await call(hub, method, path, body), 501, "unimplemented");
    expect(await accountRows(db())).toEqual(rows);
    expect(await clouddriverSnapshot(db())).toEqual(clouddriver);
  });

  it("still answers GET /armory/accounts, GET /armory/accounts/{id} (also TO_MIGRATE) and GET /armory/agents", async () => {
    const list = await call(hub, "GET", "/armory/accounts");
    expect(list.status).toBe(200);
    expect(list.json).toMatchObject({ items: [{ name: "existing" }], total: 1 });
    expect((await call(hub, "GET", "/armory/accounts/existing")).status).toBe(200);
    expect((await call(hub, "GET", "/armory/accounts/cd-only")).json).toMatchObject({ status: "TO_MIGRATE" });
    expectError(await call(hub, "GET", "/armory/accounts/nobody"), 404, "not_found");
    const agents = await call(hub, "GET", "/armory/agents");
    expect(agents.status).toBe(200);
    expect(agents.json).toEqual([]);
  });
});
