// The hub never writes Clouddriver's `accounts` table (design sections 3 and 10). Two proofs: every
// row, `last_modified_at` included, is the same before and after migrate, autoscan scans,
// interceptor calls, PUT/PATCH and deletes; and a row trigger records (and skips) any write to the
// table that does not come from the test playing Clouddriver, so even a write the hub would
// swallow shows up. Clouddriver's table is in a schema of its own, as in a real deployment.
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectFakeAgent, type FakeAgent } from "../accounts/fake-agent.js";
import { SECRET_KUBECONFIG, call } from "../support/rest.js";
import { eventually } from "../support/eventually.js";
import { DATABASE_KINDS } from "../support/databases.js";
import { startTestHub, type TestHub } from "../support/hub.js";
import { createClouddriverTable, uniqueSchema, type ClouddriverTable } from "./support.js";

interface Shown {
  status: string;
  source: string;
  lastAssignmentMsg: string;
}

describe.each(DATABASE_KINDS)("Clouddriver's table stays read-only on %s", (kind) => {
  let hub: TestHub;
  let cd: ClouddriverTable;
  let agent: FakeAgent;
  const schema = uniqueSchema("cdro");

  beforeAll(async () => {
    hub = await startTestHub(kind, {
      "clouddriver.schema": schema,
      "autoscan.enabled": true,
      "autoscan.frequency": "1h",
      "autoscan.namePatterns": ["ro-team-"],
      "interceptor.enabled": true,
    });
    cd = await createClouddriverTable(hub.app.database, schema);
    await cd.put("ro-migrate-1", { kubeconfigContents: SECRET_KUBECONFIG });
    await cd.put("ro-migrate-2", { kubeconfigFile: "/k/2", zoneId: "zone-ro" });
    await cd.put("ro-agent-1", { kubeconfigFile: "/k/a1" }, "kubernetes:agent");
    await cd.put("ro-agent-2", { kubeconfigFile: "/k/a2" }, "kubernetes:agent");
    await cd.put("ro-team-x", { kubeconfigFile: "/k/x" });
    await cd.put("ro-cd-only", { kubeconfigFile: "/k/only" });
    await cd.put("ro-aws", { accountId: "1" }, "aws");
    await cd.guard();
    agent = connectFakeAgent(hub.url, "agent-ro", "zone-ro");
    await eventually(async () => {
      const agents = (await call(hub, "GET", "/armory/agents")).json as unknown[];
      expect(agents).toHaveLength(1);
      return agents;
    });
  });
  afterAll(async () => {
    await agent.close();
    await hub.stop();
    await cd.drop();
  });

  const show = async (name: string) => (await call(hub, "GET", `/armory/accounts/${name}`)).json as Shown;
  const until = (name: string, ok: (a: Shown) => boolean) =>
    eventually(async () => {
      const shown = await show(name);
      expect(ok(shown), `${name}: ${JSON.stringify(shown)}`).toBe(true);
      return shown;
    });
  const scan = () => hub.app.autoscan!.scanOnce();

  it("the guard itself works: a write that is not Clouddriver's is recorded and skipped", async () => {
    const before = await cd.snapshot();
    await hub.app.database.db.execute(sql`UPDATE ${sql.identifier(schema)}.accounts SET last_modified_at = 1 WHERE id = 'ro-aws'`);
    expect(await cd.snapshot()).toEqual(before);
    expect(await cd.writeAttempts()).toEqual([{ op: "UPDATE", id: "ro-aws" }]);
    await hub.app.database.db.execute(sql`DELETE FROM ${sql.identifier(schema)}.write_attempts`);
  });

  it("migrate, activate, autoscan, interceptor, PUT and delete leave every row and last_modified_at as it was", async () => {
    const before = await cd.snapshot();

    expect((await call(hub, "POST", "/armory/accounts", [{ name: "ro-migrate-1", zoneId: "zone-ro" }, { name: "ro-migrate-2" }])).status).toBe(202);
    expect((await call(hub, "POST", "/armory/accounts", [{ name: "ro-migrate-1" }])).status).toBe(409);
    expect((await call(hub, "PATCH", "/armory/accounts", [{ name: "ro-migrate-1", state: "ACTIVE" }])).status).toBe(202);
    await until("ro-migrate-1", (a) => a.status === "ACTIVE");

    expect((await scan()).activated).toEqual(["ro-agent-1", "ro-agent-2", "ro-team-x"]);
    for (const name of ["ro-agent-1", "ro-agent-2", "ro-team-x"]) await until(name, (a) => a.status === "ACTIVE");

    expect((await call(hub, "POST", "/credentials", { type: "kubernetes", name: "ro-icpt", kubeconfigFile: "/k/i" })).status).toBe(200);
    expect((await call(hub, "PUT", "/credentials", { type: "kubernetes", name: "ro-icpt", kubeconfigFile: "/k/i2" })).status).toBe(200);
    expect((await call(hub, "POST", "/credentials", { type: "kubernetes", name: "ro-cd-only", kubeconfigFile: "/k" })).status).toBe(409);
    expect((await call(hub, "PUT", "/credentials", { type: "kubernetes", name: "ro-cd-only", kubeconfigFile: "/k" })).status).toBe(409);
    expect((await call(hub, "POST", "/armory/accounts/dynamic", { name: "ro-cd-only", kubeconfigFile: "/k" })).status).toBe(409);
    expect((await call(hub, "PUT", "/armory/accounts/dynamic", { name: "ro-cd-only", kubeconfigFile: "/k" })).status).toBe(409);
    expect((await call(hub, "PUT", "/armory/accounts/dynamic", { name: "ro-migrate-1", kubeconfigFile: "/k/changed", zoneId: "zone-ro" })).status).toBe(202);

    // A deleted migrated account is Clouddriver's again; its row there was never touched.
    expect((await call(hub, "DELETE", "/armory/accounts", ["ro-migrate-1", "ro-agent-1"])).status).toBe(202);
    expect(await until("ro-migrate-1", (a) => a.status === "TO_MIGRATE")).toMatchObject({ status: "TO_MIGRATE", source: "clouddriver" });
    await until("ro-agent-1", (a) => a.status === "TO_MIGRATE");
    // Its row is still handed to agents, so the next scan takes the autoscan account on again.
    expect((await scan()).activated).toEqual(["ro-agent-1"]);

    expect(await cd.snapshot()).toEqual(before);
    expect(await cd.writeAttempts()).toEqual([]);
  });

  it("when Clouddriver changes and removes rows, the scans that push and deactivate write nothing there either", async () => {
    await cd.put("ro-agent-2", { kubeconfigFile: "/k/a2-new" }, "kubernetes:agent");
    await cd.remove("ro-team-x");
    const before = await cd.snapshot();

    expect(await scan()).toMatchObject({ updated: ["ro-agent-2"], deactivated: ["ro-team-x"] });
    await eventually(async () => {
      await scan();
      const shown = await show("ro-team-x");
      expect(shown.status).toBe("INACTIVE");
      expect(shown.lastAssignmentMsg).toContain("removed from Clouddriver's accounts table");
    });
    expect((await call(hub, "PATCH", "/armory/accounts", [{ name: "ro-agent-2", state: "INACTIVE" }])).status).toBe(202);
    await until("ro-agent-2", (a) => a.status === "INACTIVE");
    expect((await call(hub, "DELETE", "/armory/accounts", ["ro-team-x", "ro-icpt"])).status).toBe(202);
    await eventually(async () => expect((await call(hub, "GET", "/armory/accounts/ro-team-x")).status).toBe(404));
    await scan();

    expect(await cd.snapshot()).toEqual(before);
    expect(await cd.writeAttempts()).toEqual([]);
  });
});
