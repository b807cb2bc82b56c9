// Bad input of every kind: each answer is a clear 4xx with the JSON error shape of section 8,
// and neither the hub's accounts table nor Clouddriver's changed.
import { beforeAll, describe, expect, it } from "vitest";
import type { TestHub } from "../../support/hub.js";
import { accountRow, accountRows, clouddriverSnapshot, detailFields, detailNames, expectError, insertAccount, seedClouddriver } from "../support.js";
import { call, rawRequest, type Answer } from "../../support/rest.js";

/** The `http.maxBodyBytes` the test hub must run with for the 413 tests. */
export const MAX_BODY = 4096;

const WRITE_ROUTES: [string, string][] = [
  ["POST", "/armory/accounts"],
  ["PATCH", "/armory/accounts"],
  ["PATCH", "/armory/accounts/dynamic"],
  ["DELETE", "/armory/accounts"],
  ["POST", "/armory/accounts/dynamic"],
  ["PUT", "/armory/accounts/dynamic"],
];

/** Registers the bad-input tests against the running test hub (started with MAX_BODY). */
export function badInputSuite(testHub: () => TestHub): void {
  describe("bad input", () => {
    let hub: TestHub;
    const db = () => hub.app.database;

    beforeAll(async () => {
      hub = testHub();
      expect(hub.config.http.maxBodyBytes).toBe(MAX_BODY);
      await seedClouddriver(db(), "cd-1", { kubeconfigFile: "/cd/1" });
      await insertAccount(db(), { name: "present" });
    });

    /** Runs `request` and proves that it changed no row of either table. */
    async function unchanged(request: () => Promise<Answer>): Promise<Answer> {
      const accounts = await accountRows(db());
      const clouddriver = await clouddriverSnapshot(db());
      const answer = await request();
      expect(await accountRows(db())).toEqual(accounts);
      expect(await clouddriverSnapshot(db())).toEqual(clouddriver);
      return answer;
    }

    describe("malformed JSON", () => {
      it.each(WRITE_ROUTES)("%s %s → 400 invalid_argument", async (method, path) => {
        const answer = await unchanged(() => call(hub, method, path, undefined, { raw: '[{"name": "half",' }));
        const details = expectError(answer, 400, "invalid_argument");
        expect(details.length).toBeGreaterThan(0);
        expect((answer.json as { message: string }).message).toMatch(/JSON/);
      });

      it("a body that is not UTF-8 → 400", async () => {
        const answer = await unchanged(() => rawRequest(hub, "POST", "/armory/accounts/dynamic", { "content-type": "application/json" }, Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d])));
        expect(detailFields(expectError(answer, 400, "invalid_argument"))).toEqual(["accounts"]);
        expect((answer.json as { message: string }).message).toMatch(/UTF-8/);
      });
    });

    describe("wrong types", () => {
      it.each([
        ["POST", "/armory/accounts/dynamic", { name: 5, serviceAccount: true }, "name"],
        ["POST", "/armory/accounts/dynamic", { name: "t-1", serviceAccount: "yes" }, "serviceAccount"],
        ["POST", "/armory/accounts/dynamic", [{ name: "t-2", kubeconfigFile: "/k", zoneId: ["a"] }], "[0].zoneId"],
        ["POST", "/armory/accounts/dynamic", [{ name: "t-3", kubeconfigFile: 7 }], "[0].kubeconfigFile"],
        ["POST", "/armory/accounts/dynamic", [{ name: "t-4", kubeconfigFile: "/k", kubeconfigAgent: false }], "[0].kubeconfigAgent"],
        ["PUT", "/armory/accounts/dynamic", { name: "t-5", kubeconfigContents: 12 }, "kubeconfigContents"],
        ["PATCH", "/armory/accounts", [{ name: "present", state: 1 }], "[0].state"],
        ["PATCH", "/armory/accounts", [{ name: "present", state: "ACTIVE", serviceAccount: "true" }], "[0].serviceAccount"],
        ["POST", "/armory/accounts", [{ name: true }], "[0].name"],
        ["DELETE", "/armory/accounts", [null], "names"],
        ["DELETE", "/armory/accounts", "present", "names"],
        ["POST", "/armory/accounts/dynamic", [null], "[0]"],
        ["POST", "/armory/accounts/dynamic", [[{ name: "nested", serviceAccount: true }]], "[0]"],
        ["POST", "/armory/accounts/dynamic", true, "body"],
        ["PUT", "/armory/accounts/dynamic", "present", "body"],
      ])("%s %s %j → 400 naming %s", async (method, path, body, field) => {
        const answer = await unchanged(() => call(hub, method, path, body));
        expect(detailFields(expectError(answer, 400, "invalid_argument"))).toContain(field);
      });

      it.each([
        ["POST", "/armory/accounts/dynamic", [{ name: "nul-1", kubeconfigContents: "a\u0000b" }], "[0].kubeconfigContents"],
        ["POST", "/armory/accounts/dynamic", { name: "nul-2", serviceAccount: true, custom: { list: ["ok", "x\u0000"] } }, "custom.list[1]"],
        ["PUT", "/armory/accounts/dynamic", { name: "nul-3", serviceAccount: true, "bad\u0000key": 1 }, "bad\u0000key"],
        ["PATCH", "/armory/accounts", [{ name: "present", state: "ACTIVE", kubeconfigContents: "\u0000" }], "[0].kubeconfigContents"],
        ["POST", "/armory/accounts", [{ name: "cd-1", kubeconfigFile: "/a\u0000" }], "[0].kubeconfigFile"],
      ])("%s %s with a NUL character (jsonb cannot store it) → 400 naming %s", async (method, path, body, field) => {
        const answer = await unchanged(() => call(hub, method, path, body));
        expect(detailFields(expectError(answer, 400, "invalid_argument"))).toEqual([field]);
      });

      it("an empty body on a route that needs one → 400", async () => {
        for (const [method, path] of WRITE_ROUTES) {
          const answer = await unchanged(() => rawRequest(hub, method, path, { "content-type": "application/json", "content-length": "0" }, ""));
          expectError(answer, 400, "invalid_argument");
        }
      });
    });

    describe("body size", () => {
      const big = { name: "too-big", kubeconfigContents: "x".repeat(MAX_BODY + 100) };

      it("a body over http.maxBodyBytes → 413 with the JSON error shape", async () => {
        const answer = await unchanged(() => call(hub, "POST", "/armory/accounts/dynamic", big));
        expectError(answer, 413, "resource_exhausted");
      });

      it("also when sent chunked, without Content-Length", async () => {
        const answer = await unchanged(() =>
          rawRequest(hub, "PUT", "/armory/accounts/dynamic", { "content-type": "application/json", "transfer-encoding": "chunked" }, JSON.stringify(big)),
        );
        expectError(answer, 413, "resource_exhausted");
      });

      it("a body just under the limit is served", async () => {
        const fits = { name: "fits", kubeconfigContents: "x".repeat(MAX_BODY - 200) };
        expect((await call(hub, "POST", "/armory/accounts/dynamic", fits)).status).toBe(202);
        expect(await accountRow(db(), "fits")).toBeDefined();
      });
    });

    describe("content type", () => {
      const body = JSON.stringify({ name: "typed", serviceAccount: true });

      it.each(["text/plain", "application/x-www-form-urlencoded", "application/jsonp"])("Content-Type %s → 415", async (contentType) => {
        const answer = await unchanged(() => call(hub, "POST", "/armory/accounts/dynamic", undefined, { raw: body, contentType }));
        expect(answer.status).toBe(415);
        expect(answer.json).toMatchObject({ code: expect.any(String), message: expect.stringContaining("application/json"), details: [] });
      });

      it("no Content-Type at all → 415, whatever the body holds", async () => {
        const answer = await unchanged(() => rawRequest(hub, "PATCH", "/armory/accounts", { "content-length": String(body.length) }, body));
        expect(answer.status).toBe(415);
        expect(answer.json).toMatchObject({ message: expect.any(String), details: [] });
      });

      it("parameters and case do not matter: application/json; charset=utf-8 is served", async () => {
        const answer = await call(hub, "POST", "/armory/accounts/dynamic", undefined, { raw: body, contentType: "Application/JSON; charset=utf-8" });
        expect(answer.status).toBe(202);
        expect(await accountRow(db(), "typed")).toBeDefined();
      });
    });

    describe("fields in the wrong place", () => {
      it.each([
        ["PATCH", "/armory/accounts", [{ name: "present", state: "ACTIVE", metrics: true }], "[0].metrics"],
        ["PATCH", "/armory/accounts/dynamic", [{ name: "present", state: "ACTIVE", kubeconfigAgent: "/a" }], "[0].kubeconfigAgent"],
        ["POST", "/armory/accounts", [{ name: "cd-1", state: "ACTIVE" }], "[0].state"],
        ["POST", "/armory/accounts", [{ name: "cd-1", namespaces: ["a"] }], "[0].namespaces"],
        ["DELETE", "/armory/accounts", { names: ["present"] }, "names"],
        ["PUT", "/armory/accounts/dynamic", [{ name: "present", serviceAccount: true }], "body"],
      ])("%s %s %j → 400 naming %s", async (method, path, body, field) => {
        const answer = await unchanged(() => call(hub, method, path, body));
        expect(detailFields(expectError(answer, 400, "invalid_argument"))).toContain(field);
      });

      it.each([
        ["POST", "/armory/accounts/dynamic?name=sneaky"],
        ["PATCH", "/armory/accounts?state=ACTIVE"],
        ["GET", "/armory/accounts?sort=name"],
      ])("%s %s: a query parameter the route does not take → 400", async (method, path) => {
        const body = method === "GET" ? undefined : method === "PATCH" ? [{ name: "present", state: "INACTIVE" }] : { name: "sneaky", serviceAccount: true };
        const answer = await unchanged(() => call(hub, method, path, body));
        expectError(answer, 400, "invalid_argument");
      });
    });

    describe("names", () => {
      it.each([
        ["unicode", "ünïcødé-☸-名前"],
        ["inner spaces", "with space inside"],
        ["253 characters", "n".repeat(253)],
        ["253 characters of two bytes each", "é".repeat(253)],
        ["dots, colons, @ and %", "acct.prod:eu@x%20y"],
      ])("%s are fine", async (_what, name) => {
        expect((await call(hub, "POST", "/armory/accounts/dynamic", { name, serviceAccount: true })).status).toBe(202);
        const answer = await call(hub, "GET", `/armory/accounts/${encodeURIComponent(name)}`);
        expect(answer.status).toBe(200);
        expect((answer.json as { name: string }).name).toBe(name);
      });

      it.each([
        ["a slash", "a/b"],
        ["NUL", "a\u0000b"],
        ["a tab", "tab\there"],
        ["a newline", "line\nbreak"],
        ["DEL", "del\u007f"],
        ["a C1 control", "nel\u0085x"],
        ["leading whitespace", " lead"],
        ["trailing whitespace", "trail "],
        ["a leading no-break space", "\u00a0nbsp"],
        ["nothing", ""],
        ["254 characters", "n".repeat(254)],
        ["1,000 characters", "n".repeat(1000)],
      ])("a name with %s → 400 naming [i].name, on every route", async (_what, name) => {
        const cases: [string, string, unknown, string][] = [
          ["POST", "/armory/accounts/dynamic", [{ name: "ok-name", serviceAccount: true }, { name, serviceAccount: true }], "[1].name"],
          ["PUT", "/armory/accounts/dynamic", { name, serviceAccount: true }, "name"],
          ["POST", "/armory/accounts", [{ name: "cd-1" }, { name }], "[1].name"],
          ["PATCH", "/armory/accounts", [{ name, state: "ACTIVE" }], "[0].name"],
          ["DELETE", "/armory/accounts", ["present", name], "[1]"],
        ];
        for (const [method, path, body, field] of cases) {
          const answer = await unchanged(() => call(hub, method, path, body));
          expect(detailFields(expectError(answer, 400, "invalid_argument")), `${method} ${path}`).toContain(field);
        }
      });

      it("an encoded slash in a path is a name that cannot exist → 404", async () => {
        expectError(await call(hub, "GET", "/armory/accounts/a%2Fb"), 404, "not_found");
      });

      it("an encoded NUL or control character in a path is a name that cannot exist → 404, or {} for agents", async () => {
        expectError(await call(hub, "GET", "/armory/accounts/a%00b"), 404, "not_found");
        expectError(await call(hub, "GET", "/armory/accounts/a%0Ab"), 404, "not_found");
        expect((await call(hub, "GET", "/agents/kubernetes/accounts/a%00b")).text).toBe("{}");
      });

      it.each([
        ["POST", "/armory/accounts/dynamic", [{ name: "twice", serviceAccount: true }, { name: "other", serviceAccount: true }, { name: "twice", kubeconfigFile: "/k" }]],
        ["POST", "/armory/accounts", [{ name: "cd-1" }, { name: "cd-1", zoneId: "z" }]],
        ["PATCH", "/armory/accounts", [{ name: "present", state: "ACTIVE" }, { name: "present", state: "ACTIVE" }]],
        ["DELETE", "/armory/accounts", ["present", "present"]],
      ])("%s %s with the same name twice → 400 naming it", async (method, path, body) => {
        const answer = await unchanged(() => call(hub, method, path, body));
        const names = detailNames(expectError(answer, 400, "invalid_argument"));
        expect(names).toHaveLength(1);
        expect(["twice", "cd-1", "present"]).toContain(names[0]);
      });
    });
  });
}
