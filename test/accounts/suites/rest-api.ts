// Every row of design section 8 (except operations) over REST with plain fetch, on both databases.
import { beforeAll, describe, expect, it } from "vitest";
import type { TestHub } from "../../support/hub.js";
import { accountRow, accountRows, clouddriverSnapshot, detailFields, detailNames, expectError, insertAccount, insertAgent, seedClouddriver, setStatus } from "../support.js";
import { SECRET_KUBECONFIG, SECRET_PASSWORD, SECRET_TOKEN, call } from "../../support/rest.js";

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Byte order of UTF-8, which is what `COLLATE "C"` sorts by. */
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** Registers the tests of every row of section 8 against the running test hub. */
export function restApiSuite(testHub: () => TestHub): void {
  describe("REST rows of section 8", () => {
    let hub: TestHub;
    const db = () => hub.app.database;

    beforeAll(() => {
      hub = testHub();
    });

    describe("GET /armory/accounts", () => {
      beforeAll(async () => {
        const created = await call(hub, "POST", "/armory/accounts/dynamic", [
          { name: "list-b", kubeconfigFile: "/k" },
          { name: "List-B", kubeconfigFile: "/k" },
          { name: "list-ä", kubeconfigFile: "/k" },
          { name: "list-a", kubeconfigFile: "/k", zoneId: "zone-a" },
          { name: "list_z", kubeconfigFile: "/k" },
        ]);
        expect(created.status).toBe(202);
        await insertAccount(db(), { name: "list-static", source: "static-agent-config", origin: "static", status: "ACTIVE", zoneId: "zone-s" });
      });

      it("answers 200 {items, page, limit, total} with defaults page 1, limit 100, sorted by name in byte order", async () => {
        const answer = await call(hub, "GET", "/armory/accounts");
        expect(answer.status).toBe(200);
        const body = answer.json as { items: { name: string }[]; page: number; limit: number; total: number };
        expect(Object.keys(body).sort()).toEqual(["items", "limit", "page", "total"]);
        const names = (await accountRows(db())).map((r) => r.name).sort(byteOrder);
        expect(body).toMatchObject({ page: 1, limit: 100, total: names.length });
        expect(body.items.map((i) => i.name)).toEqual(names);
        // Bytes, not a locale: "L" < "l", "-" < "_", and "ä" (0xC3 0xA4) after ASCII letters.
        const listed = body.items.map((i) => i.name).filter((n) => n.toLowerCase().startsWith("list"));
        expect(listed).toEqual(["List-B", "list-a", "list-b", "list-static", "list-ä", "list_z"]);
      });

      it("shows static accounts and hub-stored ones in the account shape, every field present", async () => {
        const body = (await call(hub, "GET", "/armory/accounts?limit=1000")).json as { items: Record<string, unknown>[] };
        const stored = body.items.find((i) => i.name === "list-a");
        expect(stored).toEqual({
          name: "list-a",
          type: "kubernetes",
          source: "clouddriver",
          config: { name: "list-a", kubeconfigFile: "/k", zoneId: "zone-a" },
          zoneId: "zone-a",
          agents: [],
          status: "INACTIVE",
          lastAssignmentMsg: "",
        });
        expect(body.items.find((i) => i.name === "list-static")).toMatchObject({ source: "static-agent-config", zoneId: "zone-s" });
        const unpinned = body.items.find((i) => i.name === "list-b");
        expect(unpinned).toMatchObject({ zoneId: "", agents: [], lastAssignmentMsg: "" });
      });

      it("pages with page and limit; total counts every account; a page past the end is empty", async () => {
        const names = (await accountRows(db())).map((r) => r.name).sort(byteOrder);
        const second = (await call(hub, "GET", "/armory/accounts?page=2&limit=2")).json as { items: { name: string }[]; page: number; limit: number; total: number };
        expect(second.page).toBe(2);
        expect(second.limit).toBe(2);
        expect(second.total).toBe(names.length);
        expect(second.items.map((i) => i.name)).toEqual(names.slice(2, 4));
        const past = await call(hub, "GET", "/armory/accounts?page=1000&limit=1000");
        expect(past.status).toBe(200);
        expect(past.json).toEqual({ items: [], page: 1000, limit: 1000, total: names.length });
      });

      it.each([
        ["page=0", "page"],
        ["page=-1", "page"],
        ["limit=0", "limit"],
        ["limit=-3", "limit"],
        ["limit=1001", "limit"],
        ["limit=1.5", "limit"],
        ["page=abc", "page"],
        ["limit=99999999999", "limit"],
      ])("?%s → 400 naming %s", async (query, field) => {
        const details = expectError(await call(hub, "GET", `/armory/accounts?${query}`), 400, "invalid_argument");
        expect(detailFields(details)).toContain(field);
      });
    });

    describe("GET /armory/accounts/{accountId}", () => {
      it("answers the account with its reachable holders", async () => {
        await call(hub, "POST", "/armory/accounts/dynamic", { name: "held", kubeconfigContents: SECRET_KUBECONFIG, zoneId: "zone-h" });
        await insertAgent(db(), "agent-h1", "zone-h", [{ account: "held", caching: true }]);
        await insertAgent(db(), "agent-h2", "zone-h", [{ account: "held", caching: false }]);
        await insertAgent(db(), "agent-h3", "zone-h", [{ account: "held", caching: false, reachable: false }]);
        const answer = await call(hub, "GET", "/armory/accounts/held");
        expect(answer.status).toBe(200);
        expect(answer.json).toEqual({
          name: "held",
          type: "kubernetes",
          source: "clouddriver",
          config: { name: "held", kubeconfigContents: "<redacted>", zoneId: "zone-h" },
          zoneId: "zone-h",
          agents: [
            { agentId: "agent-h1", caching: true },
            { agentId: "agent-h2", caching: false },
          ],
          status: "INACTIVE",
          lastAssignmentMsg: "",
        });
      });

      it("shows a name only in Clouddriver's table as TO_MIGRATE with source clouddriver, not in the list", async () => {
        await seedClouddriver(db(), "cd-only", { kubeconfigContents: SECRET_KUBECONFIG, context: "prod", zoneId: "zone-c" });
        const answer = await call(hub, "GET", "/armory/accounts/cd-only");
        expect(answer.status).toBe(200);
        expect(answer.json).toEqual({
          name: "cd-only",
          type: "kubernetes",
          source: "clouddriver",
          config: { name: "cd-only", type: "kubernetes", kubeconfigContents: "<redacted>", context: "prod", zoneId: "zone-c" },
          zoneId: "zone-c",
          agents: [],
          status: "TO_MIGRATE",
          lastAssignmentMsg: "",
        });
        const list = (await call(hub, "GET", "/armory/accounts?limit=1000")).json as { items: { name: string }[] };
        expect(list.items.map((i) => i.name)).not.toContain("cd-only");
      });

      it("answers 404 not_found for an unknown name", async () => {
        expectError(await call(hub, "GET", "/armory/accounts/nobody-here"), 404, "not_found");
      });

      it("finds a unicode name given percent-encoded", async () => {
        const name = "кластер-ü ☸";
        expect((await call(hub, "POST", "/armory/accounts/dynamic", { name, serviceAccount: true })).status).toBe(202);
        const answer = await call(hub, "GET", `/armory/accounts/${encodeURIComponent(name)}`);
        expect(answer.status).toBe(200);
        expect((answer.json as { name: string }).name).toBe(name);
      });
    });

    describe("POST /armory/accounts (migrate)", () => {
      beforeAll(async () => {
        await seedClouddriver(db(), "mig-a", { kubeconfigFile: "/cd/a", namespaces: ["x"], password: SECRET_PASSWORD });
        await seedClouddriver(db(), "mig-b", { kubeConfigFile: "/cd/b" });
        await seedClouddriver(db(), "mig-c", { kubeconfigFile: "/cd/c" });
        await seedClouddriver(db(), "mig-d", { kubeconfigFile: "/cd/d" });
        await seedClouddriver(db(), "mig-e", { kubeconfigFile: "/cd/e" });
      });

      it("answers 202 [] and copies the body (origin migrated, INACTIVE) with the given fields, never touching Clouddriver's table", async () => {
        const before = await clouddriverSnapshot(db());
        const answer = await call(hub, "POST", "/armory/accounts", [
          { name: "mig-a", zoneId: "zone-m", kubeconfigFile: "/given/a" },
          { name: "mig-b" },
        ]);
        expect(answer.status).toBe(202);
        expect(answer.json).toEqual([]);
        expect(await clouddriverSnapshot(db())).toEqual(before);
        const a = (await accountRow(db(), "mig-a"))!;
        expect(a).toMatchObject({ source: "clouddriver", origin: "migrated", status: "INACTIVE", zoneId: "zone-m", type: "kubernetes" });
        expect(a.definition).toEqual({ name: "mig-a", type: "kubernetes", kubeconfigFile: "/given/a", namespaces: ["x"], password: SECRET_PASSWORD, zoneId: "zone-m" });
        const lastModified = before.find((r) => r.id === "mig-a")!.last_modified_at;
        expect(a.clouddriverLastModified).toBe(Number(lastModified));
        // seed 002's kubeConfigFile is read as kubeconfigFile.
        expect((await accountRow(db(), "mig-b"))!.definition).toEqual({ name: "mig-b", type: "kubernetes", kubeconfigFile: "/cd/b" });
        const shown = await call(hub, "GET", "/armory/accounts/mig-a");
        expect(shown.json).toMatchObject({ source: "clouddriver", status: "INACTIVE", zoneId: "zone-m", config: { password: "<redacted>" } });
      });

      it("answers 409 with the names already migrated while the rest are migrated", async () => {
        const before = await clouddriverSnapshot(db());
        const answer = await call(hub, "POST", "/armory/accounts", [{ name: "mig-a" }, { name: "mig-c" }]);
        expect(answer.status).toBe(409);
        expect(answer.json).toEqual(["mig-a"]);
        expect((await accountRow(db(), "mig-c"))!.origin).toBe("migrated");
        expect(await clouddriverSnapshot(db())).toEqual(before);
      });

      it("answers 400 naming names Clouddriver does not have; 400 wins over 409; nothing is written", async () => {
        const rows = await accountRows(db());
        const answer = await call(hub, "POST", "/armory/accounts", [{ name: "mig-a" }, { name: "mig-d" }, { name: "not-in-cd" }, { name: "also-not" }]);
        const details = expectError(answer, 400, "invalid_argument");
        expect(detailNames(details)).toEqual(["not-in-cd", "also-not"]);
        expect(await accountRows(db())).toEqual(rows);
        expect(await accountRow(db(), "mig-d")).toBeUndefined();
      });

      it("answers 409 for a static account's name", async () => {
        await seedClouddriver(db(), "mig-static");
        await insertAccount(db(), { name: "mig-static", source: "static-agent-config", origin: "static" });
        const answer = await call(hub, "POST", "/armory/accounts", [{ name: "mig-static" }, { name: "mig-e" }]);
        expect(answer.status).toBe(409);
        expect(answer.json).toEqual(["mig-static"]);
        expect((await accountRow(db(), "mig-static"))!.source).toBe("static-agent-config");
      });

      it.each([
        ["an empty array", "body", []],
        ["an object", "body", { name: "mig-d" }],
        ["a string", "body", "mig-d"],
        ["null", "body", null],
        ["a non-object element", "[1]", [{ name: "mig-d" }, 7]],
        ["an element without name", "[0].name", [{ zoneId: "z" }]],
        ["a bad name", "[1].name", [{ name: "mig-d" }, { name: "a/b" }]],
        ["a wrongly typed zoneId", "[0].zoneId", [{ name: "mig-d", zoneId: 3 }]],
      ])("answers 400 for %s, naming %s, writing nothing", async (_what, field, body) => {
        const rows = await accountRows(db());
        const details = expectError(await call(hub, "POST", "/armory/accounts", body), 400, "invalid_argument");
        expect(detailFields(details)).toContain(field);
        expect(await accountRows(db())).toEqual(rows);
      });
    });

    describe.each(["/armory/accounts", "/armory/accounts/dynamic"])("PATCH %s", (path) => {
      const p = path.endsWith("dynamic") ? "pd" : "pa";
      beforeAll(async () => {
        await insertAccount(db(), { name: `${p}-fine` });
        await insertAccount(db(), { name: `${p}-del`, status: "DELETING" });
        await insertAccount(db(), { name: `${p}-static`, source: "static-agent-config", origin: "static", status: "ACTIVE" });
      });

      it("answers 202 with no body; ACTIVE goes on to ACTIVATING and INACTIVE to TO_DEACTIVATE (or further, by the hub)", async () => {
        await insertAccount(db(), { name: `${p}-1`, status: "FAILED", failedCount: 3 });
        await insertAccount(db(), { name: `${p}-2`, status: "ORPHANED" });
        const answer = await call(hub, "PATCH", path, [
          { name: `${p}-1`, state: "ACTIVE" },
          { name: `${p}-2`, state: "INACTIVE", zoneId: "zone-p", kubeconfigFile: "/p", kubeconfigContents: SECRET_KUBECONFIG, serviceAccount: false },
        ]);
        expect(answer.status).toBe(202);
        expect(answer.text).toBe("");
        const one = (await accountRow(db(), `${p}-1`))!;
        expect(["ACTIVATING", "ORPHANED", "ACTIVE"]).toContain(one.status);
        expect(one.failedCount).toBe(0);
        const two = (await accountRow(db(), `${p}-2`))!;
        expect(["TO_DEACTIVATE", "INACTIVE"]).toContain(two.status);
        expect(two.zoneId).toBe("zone-p");
        expect(two.definition).toMatchObject({ zoneId: "zone-p", kubeconfigFile: "/p", kubeconfigContents: SECRET_KUBECONFIG, serviceAccount: false });
      });

      it("answers 400 failed_precondition naming an account being deleted; nothing changes", async () => {
        const rows = await accountRows(db());
        const answer = await call(hub, "PATCH", path, [
          { name: `${p}-fine`, state: "ACTIVE" },
          { name: `${p}-del`, state: "ACTIVE" },
        ]);
        expect(detailNames(expectError(answer, 400, "failed_precondition"))).toEqual([`${p}-del`]);
        expect(await accountRows(db())).toEqual(rows);
      });

      it("refuses ACTIVE on TO_DEACTIVATE and DEACTIVATING, and INACTIVE on DELETING", async () => {
        await insertAccount(db(), { name: `${p}-td`, status: "TO_DEACTIVATE" });
        await insertAccount(db(), { name: `${p}-dd`, status: "DEACTIVATING" });
        const answer = await call(hub, "PATCH", path, [
          { name: `${p}-td`, state: "ACTIVE" },
          { name: `${p}-dd`, state: "ACTIVE" },
        ]);
        expect(detailNames(expectError(answer, 400, "failed_precondition")).sort()).toEqual([`${p}-dd`, `${p}-td`]);
        const deleting = await call(hub, "PATCH", path, [{ name: `${p}-del`, state: "INACTIVE" }]);
        expect(detailNames(expectError(deleting, 400, "failed_precondition"))).toEqual([`${p}-del`]);
      });

      it("accepts ACTIVE on ACTIVATING and changes nothing", async () => {
        await insertAccount(db(), { name: `${p}-busy`, status: "ACTIVATING" });
        const before = (await accountRow(db(), `${p}-busy`))!;
        expect((await call(hub, "PATCH", path, [{ name: `${p}-busy`, state: "ACTIVE" }])).status).toBe(202);
        const after = (await accountRow(db(), `${p}-busy`))!;
        expect(after.definition).toEqual(before.definition);
        expect(["ACTIVATING", "ORPHANED", "ACTIVE"]).toContain(after.status);
      });

      it.each([
        ["an unknown name", (q: string) => [{ name: `${q}-fine`, state: "INACTIVE" }, { name: "nobody", state: "ACTIVE" }], { names: ["nobody"] }],
        ["a bad state", (q: string) => [{ name: `${q}-fine`, state: "active" }], { field: "[0].state" }],
        ["a missing state", (q: string) => [{ name: `${q}-fine` }], { field: "[0].state" }],
        ["an empty array", () => [], { field: "body" }],
        ["an object instead of an array", (q: string) => ({ name: `${q}-fine`, state: "ACTIVE" }), { field: "body" }],
        ["a static account", (q: string) => [{ name: `${q}-fine`, state: "ACTIVE" }, { name: `${q}-static`, state: "INACTIVE" }], { names: [`${p}-static`] }],
        ["an unknown field", (q: string) => [{ name: `${q}-fine`, state: "ACTIVE", metrics: true }], { field: "[0].metrics" }],
        ["a name twice", (q: string) => [{ name: `${q}-fine`, state: "ACTIVE" }, { name: `${q}-fine`, state: "INACTIVE" }], { names: [`${p}-fine`] }],
      ])("answers 400 for %s, changing nothing", async (_what, body, expected) => {
        const rows = await accountRows(db());
        const details = expectError(await call(hub, "PATCH", path, body(p)), 400, "invalid_argument");
        if ("field" in expected) expect(detailFields(details)).toContain(expected.field);
        else expect(detailNames(details)).toEqual(expected.names);
        expect(await accountRows(db())).toEqual(rows);
      });
    });

    describe("DELETE /armory/accounts", () => {
      beforeAll(async () => {
        await insertAccount(db(), { name: "del-keep" });
        await insertAccount(db(), { name: "del-static", source: "static-agent-config", origin: "static" });
      });

      it("answers 202 with no body and marks the accounts DELETING (or removes them, by the hub)", async () => {
        await insertAccount(db(), { name: "del-1", status: "ACTIVE" });
        await insertAccount(db(), { name: "del-2", status: "FAILED" });
        const answer = await call(hub, "DELETE", "/armory/accounts", ["del-1", "del-2"]);
        expect(answer.status).toBe(202);
        expect(answer.text).toBe("");
        for (const name of ["del-1", "del-2"]) expect([undefined, "DELETING"]).toContain((await accountRow(db(), name))?.status);
      });

      it.each([
        ["an empty array", "body", []],
        ["an object", "names", { names: ["del-keep"] }],
        ["an array with a number", "names", ["del-keep", 5]],
        ["a bad name", "[1]", ["del-keep", " spaced"]],
      ])("answers 400 for %s, naming %s, deleting nothing", async (_what, field, body) => {
        const rows = await accountRows(db());
        const details = expectError(await call(hub, "DELETE", "/armory/accounts", body), 400, "invalid_argument");
        expect(detailFields(details)).toContain(field);
        expect(await accountRows(db())).toEqual(rows);
      });

      it.each([
        ["unknown names", ["del-keep", "nobody", "nobody-2"], ["nobody", "nobody-2"]],
        ["a static account", ["del-keep", "del-static"], ["del-static"]],
        ["a name twice", ["del-keep", "del-keep"], ["del-keep"]],
      ])("answers 400 naming %s, deleting nothing", async (_what, body, names) => {
        const rows = await accountRows(db());
        const details = expectError(await call(hub, "DELETE", "/armory/accounts", body), 400, "invalid_argument");
        expect(detailNames(details)).toEqual(names);
        expect(await accountRows(db())).toEqual(rows);
      });
    });

    describe("POST /armory/accounts/dynamic", () => {
      it("creates one account object: 202 [], INACTIVE, origin created, definition as sent", async () => {
        const definition = { name: "dyn-1", kubeConfigFile: "/seed002", metrics: false, kinds: ["Deployment"], custom: { nested: [1, 2] } };
        const answer = await call(hub, "POST", "/armory/accounts/dynamic", definition);
        expect(answer.status).toBe(202);
        expect(answer.json).toEqual([]);
        const row = (await accountRow(db(), "dyn-1"))!;
        expect(row).toMatchObject({ source: "clouddriver", origin: "created", status: "INACTIVE", type: "kubernetes", zoneId: null, agentDefinition: null });
        expect(row.definition).toEqual({ name: "dyn-1", kubeconfigFile: "/seed002", metrics: false, kinds: ["Deployment"], custom: { nested: [1, 2] } });
      });

      it("creates an array of them; kubeconfigAgent becomes the definition agents get", async () => {
        const answer = await call(hub, "POST", "/armory/accounts/dynamic", [
          { name: "dyn-2", serviceAccount: true, zoneId: "zone-d" },
          { name: "dyn-3", kubeconfigContents: SECRET_KUBECONFIG, kubeconfigAgent: "/agent/kubeconfig" },
        ]);
        expect(answer.status).toBe(202);
        expect(answer.json).toEqual([]);
        expect((await accountRow(db(), "dyn-2"))!.zoneId).toBe("zone-d");
        expect((await accountRow(db(), "dyn-3"))!.agentDefinition).toEqual({ name: "dyn-3", kubeconfigFile: "/agent/kubeconfig" });
      });

      it("answers 409 with names in the hub, static, or in Clouddriver's table, while the rest are created", async () => {
        await seedClouddriver(db(), "dyn-cd");
        await insertAccount(db(), { name: "dyn-static", source: "static-agent-config", origin: "static" });
        const before = await clouddriverSnapshot(db());
        const answer = await call(hub, "POST", "/armory/accounts/dynamic", [
          { name: "dyn-1", serviceAccount: true },
          { name: "dyn-cd", serviceAccount: true },
          { name: "dyn-4", serviceAccount: true },
          { name: "dyn-static", serviceAccount: true },
        ]);
        expect(answer.status).toBe(409);
        expect(answer.json).toEqual(["dyn-1", "dyn-cd", "dyn-static"]);
        expect((await accountRow(db(), "dyn-4"))!.status).toBe("INACTIVE");
        expect(await accountRow(db(), "dyn-cd")).toBeUndefined();
        expect((await accountRow(db(), "dyn-1"))!.definition).toMatchObject({ kubeconfigFile: "/seed002" });
        expect(await clouddriverSnapshot(db())).toEqual(before);
      });

      it.each([
        ["an empty array", "body", []],
        ["a missing name", "[0].name", [{ serviceAccount: true }]],
        ["an invalid name", "[1].name", [{ name: "ok-1", serviceAccount: true }, { name: "bad\nname", serviceAccount: true }]],
        ["no credentials", "body", { name: "dyn-x", zoneId: "z" }],
        ["serviceAccount false only", "[0]", [{ name: "dyn-x", serviceAccount: false }]],
        ["an element that is not an object", "[1]", [{ name: "dyn-x", serviceAccount: true }, "dyn-y"]],
        ["a type other than kubernetes", "type", { name: "dyn-x", type: "aws", serviceAccount: true }],
        ["a number", "body", 5],
      ])("answers 400 for %s, naming %s, creating nothing", async (_what, field, body) => {
        const rows = await accountRows(db());
        const details = expectError(await call(hub, "POST", "/armory/accounts/dynamic", body), 400, "invalid_argument");
        expect(detailFields(details)).toContain(field);
        expect(await accountRows(db())).toEqual(rows);
      });
    });

    describe("PUT /armory/accounts/dynamic", () => {
      it("creates a missing account INACTIVE: 202 []", async () => {
        const answer = await call(hub, "PUT", "/armory/accounts/dynamic", { name: "put-1", kubeconfigFile: "/v1" });
        expect(answer.status).toBe(202);
        expect(answer.json).toEqual([]);
        expect(await accountRow(db(), "put-1")).toMatchObject({ status: "INACTIVE", origin: "created", definition: { name: "put-1", kubeconfigFile: "/v1" } });
      });

      it("replaces the stored definition, keeping the state, bumping the version", async () => {
        await setStatus(db(), "put-1", "FAILED", 2);
        const before = (await accountRow(db(), "put-1"))!;
        const answer = await call(hub, "PUT", "/armory/accounts/dynamic", { name: "put-1", kubeconfigFile: "/v2", zoneId: "zone-2" });
        expect(answer.status).toBe(202);
        expect(answer.json).toEqual([]);
        const after = (await accountRow(db(), "put-1"))!;
        expect(after.definition).toEqual({ name: "put-1", kubeconfigFile: "/v2", zoneId: "zone-2" });
        expect(after.zoneId).toBe("zone-2");
        expect(after.version).toBeGreaterThan(before.version);
        expect(after.origin).toBe("created");
      });

      it("answers 409 [name] for a name only in Clouddriver's table, writing nothing", async () => {
        await seedClouddriver(db(), "put-cd");
        const answer = await call(hub, "PUT", "/armory/accounts/dynamic", { name: "put-cd", serviceAccount: true });
        expect(answer.status).toBe(409);
        expect(answer.json).toEqual(["put-cd"]);
        expect(await accountRow(db(), "put-cd")).toBeUndefined();
      });

      it("replaces a migrated account (in both tables)", async () => {
        await seedClouddriver(db(), "put-mig", { kubeconfigFile: "/cd" });
        expect((await call(hub, "POST", "/armory/accounts", [{ name: "put-mig" }])).status).toBe(202);
        const answer = await call(hub, "PUT", "/armory/accounts/dynamic", { name: "put-mig", kubeconfigFile: "/mine" });
        expect(answer.status).toBe(202);
        expect((await accountRow(db(), "put-mig"))!.definition).toEqual({ name: "put-mig", kubeconfigFile: "/mine" });
      });

      it("answers 400 naming a static account", async () => {
        await insertAccount(db(), { name: "put-static", source: "static-agent-config", origin: "static" });
        const rows = await accountRows(db());
        const answer = await call(hub, "PUT", "/armory/accounts/dynamic", { name: "put-static", serviceAccount: true });
        expect(detailNames(expectError(answer, 400, "invalid_argument"))).toEqual(["put-static"]);
        expect(await accountRows(db())).toEqual(rows);
      });

      it.each([
        ["an empty body", "body", undefined],
        ["an array", "body", [{ name: "put-2", serviceAccount: true }]],
        ["an empty array", "body", []],
        ["a missing name", "name", { serviceAccount: true }],
        ["no credentials", "body", { name: "put-2" }],
        ["a wrongly typed kubeconfigContents", "kubeconfigContents", { name: "put-2", kubeconfigContents: { a: 1 } }],
      ])("answers 400 for %s, naming %s, writing nothing", async (_what, field, body) => {
        const rows = await accountRows(db());
        const answer = body === undefined ? await call(hub, "PUT", "/armory/accounts/dynamic", undefined, { contentType: "application/json" }) : await call(hub, "PUT", "/armory/accounts/dynamic", body);
        expect(detailFields(expectError(answer, 400, "invalid_argument"))).toContain(field);
        expect(await accountRows(db())).toEqual(rows);
      });
    });

    describe("GET /agents/kubernetes/accounts/{name}", () => {
      it("answers the hub-stored account", async () => {
        await call(hub, "POST", "/armory/accounts/dynamic", { name: "ag-1", kubeconfigContents: SECRET_KUBECONFIG });
        const answer = await call(hub, "GET", "/agents/kubernetes/accounts/ag-1");
        expect(answer.status).toBe(200);
        expect(answer.json).toMatchObject({ name: "ag-1", type: "kubernetes", source: "clouddriver", config: { kubeconfigContents: "<redacted>" }, agents: [], status: "INACTIVE" });
      });

      it("answers a static account", async () => {
        await insertAccount(db(), { name: "ag-static", source: "static-agent-config", origin: "static", status: "ACTIVE" });
        expect((await call(hub, "GET", "/agents/kubernetes/accounts/ag-static")).json).toMatchObject({ name: "ag-static", source: "static-agent-config" });
      });

      it("answers exactly {} when there is none, also for a name only in Clouddriver's table", async () => {
        await seedClouddriver(db(), "ag-cd");
        for (const name of ["ag-none", "ag-cd"]) {
          const answer = await call(hub, "GET", `/agents/kubernetes/accounts/${name}`);
          expect(answer.status).toBe(200);
          expect(answer.text).toBe("{}");
        }
      });
    });

    describe("GET /armory/agents", () => {
      it("answers the agents with counts of accounts held and cached, times in RFC 3339", async () => {
        await insertAccount(db(), { name: "agents-1" });
        await insertAccount(db(), { name: "agents-2" });
        await insertAccount(db(), { name: "agents-3" });
        await insertAgent(db(), "agent-x", "zone-x", [
          { account: "agents-1", caching: true },
          { account: "agents-2", caching: false },
          { account: "agents-3", caching: true, reachable: false },
        ]);
        await insertAgent(db(), "agent-y", "", []);
        const answer = await call(hub, "GET", "/armory/agents");
        expect(answer.status).toBe(200);
        const agents = answer.json as Record<string, unknown>[];
        const x = agents.find((a) => a.agentId === "agent-x")!;
        expect(x).toEqual({
          agentId: "agent-x",
          zoneId: "zone-x",
          hubId: "other-replica",
          accounts: 2,
          caching: 1,
          connectedAt: "2024-05-06T07:08:09.010Z",
          lastHeartbeat: expect.stringMatching(RFC3339),
          version: "",
          labels: {},
        });
        expect(agents.find((a) => a.agentId === "agent-y")).toMatchObject({ zoneId: "", accounts: 0, caching: 0 });
        expect(agents.map((a) => a.agentId)).toEqual([...agents.map((a) => a.agentId as string)].sort(byteOrder));
      });
    });

    describe("redaction", () => {
      it("never answers secret contents; references are kept verbatim", async () => {
        const definition = {
          name: "secretive",
          kubeconfigContents: SECRET_KUBECONFIG,
          token: SECRET_TOKEN,
          oauthServiceAccountToken: "encrypted:k8s!n:tok!k:token",
          auth: { Password: SECRET_PASSWORD, clientSecretRef: "encryptedFile:k8s!n:kc!k:config!ns:spinnaker", user: "bob" },
          providers: [{ apiTOKEN: SECRET_TOKEN, name: "p" }],
          secrets: { a: SECRET_PASSWORD },
          namespaces: ["default"],
        };
        expect((await call(hub, "POST", "/armory/accounts/dynamic", definition)).status).toBe(202);
        const redacted = {
          name: "secretive",
          kubeconfigContents: "<redacted>",
          token: "<redacted>",
          oauthServiceAccountToken: "encrypted:k8s!n:tok!k:token",
          auth: { Password: "<redacted>", clientSecretRef: "encryptedFile:k8s!n:kc!k:config!ns:spinnaker", user: "bob" },
          providers: [{ apiTOKEN: "<redacted>", name: "p" }],
          secrets: "<redacted>",
          namespaces: ["default"],
        };
        // `call` fails on any answer that contains a secret; these show the redacted shape too.
        expect(((await call(hub, "GET", "/armory/accounts/secretive")).json as { config: unknown }).config).toEqual(redacted);
        expect(((await call(hub, "GET", "/agents/kubernetes/accounts/secretive")).json as { config: unknown }).config).toEqual(redacted);
        const list = (await call(hub, "GET", "/armory/accounts?limit=1000")).json as { items: { name: string; config: unknown }[] };
        expect(list.items.find((i) => i.name === "secretive")!.config).toEqual(redacted);
        // Stored as sent: agents need the contents.
        expect((await accountRow(db(), "secretive"))!.definition).toEqual(definition);
        // An error answer about the account does not echo the body either.
        expect((await call(hub, "POST", "/armory/accounts/dynamic", definition)).status).toBe(409);
        expect((await call(hub, "PUT", "/armory/accounts/dynamic", { ...definition, type: 5 })).status).toBe(400);
      });
    });
  });
}
