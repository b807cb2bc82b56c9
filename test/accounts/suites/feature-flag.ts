// dynamicAccounts.enabled: false (or the plugin's kubesvc.dynamicAccounts.enabled) turns every
// accounts endpoint into 501 except the two account listings and the agent listing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config/config.js";
import { createLogger } from "../../../src/log/logger.js";
import { startApp, type HubApp } from "../../../src/server/app.js";
import type { TestHub } from "../../support/hub.js";
import { accountRows, clouddriverSnapshot, expectError, insertAccount, seedClouddriver } from "../support.js";
import { call } from "../../support/rest.js";

/**
 * Registers the feature-flag tests. They run a second hub process with the flag off on the test
 * hub's database, so they must come first, while that database holds no account a starting hub
 * would pick up.
 */
export function featureFlagSuite(testHub: () => TestHub): void {
  describe.each(["dynamicAccounts.enabled", "kubesvc.dynamicAccounts.enabled"])("with %s: false", (key) => {
    let app: HubApp;
    const target = () => ({ url: `http://127.0.0.1:${app.port}` });
    const db = () => testHub().app.database;

    beforeAll(async () => {
      const config = loadConfig({ env: {}, overrides: { port: 0, host: "127.0.0.1", "log.level": "silent", [key]: false } });
      app = await startApp(config, { database: db(), logger: createLogger("silent") });
      await insertAccount(db(), { name: `ff-existing-${key}` });
      await seedClouddriver(db(), "ff-cd-only");
    });
    afterAll(async () => {
      await app.close();
    });

    it.each([
      ["POST", "/armory/accounts", [{ name: "ff-cd-only" }]],
      ["PATCH", "/armory/accounts", [{ name: `ff-existing-${key}`, state: "ACTIVE" }]],
      ["PATCH", "/armory/accounts/dynamic", [{ name: `ff-existing-${key}`, state: "ACTIVE" }]],
      ["DELETE", "/armory/accounts", [`ff-existing-${key}`]],
      ["POST", "/armory/accounts/dynamic", { name: "ff-new", serviceAccount: true }],
      ["PUT", "/armory/accounts/dynamic", { name: `ff-existing-${key}`, serviceAccount: true }],
      ["GET", `/agents/kubernetes/accounts/ff-existing-${key}`, undefined],
    ])("%s %s → 501 unimplemented, nothing written", async (method, path, body) => {
      const rows = await accountRows(db());
      const clouddriver = await clouddriverSnapshot(db());
      expectError(await call(target(), method, path, body), 501, "unimplemented");
      expect(await accountRows(db())).toEqual(rows);
      expect(await clouddriverSnapshot(db())).toEqual(clouddriver);
    });

    it("still answers GET /armory/accounts, GET /armory/accounts/{id} (also TO_MIGRATE) and GET /armory/agents", async () => {
      const list = await call(target(), "GET", "/armory/accounts");
      expect(list.status).toBe(200);
      expect((list.json as { items: { name: string }[] }).items.map((i) => i.name)).toContain(`ff-existing-${key}`);
      expect((await call(target(), "GET", `/armory/accounts/ff-existing-${key}`)).status).toBe(200);
      expect((await call(target(), "GET", "/armory/accounts/ff-cd-only")).json).toMatchObject({ status: "TO_MIGRATE" });
      expectError(await call(target(), "GET", "/armory/accounts/nobody"), 404, "not_found");
      const agents = await call(target(), "GET", "/armory/agents");
      expect(agents.status).toBe(200);
      expect(Array.isArray(agents.json)).toBe(true);
    });
  });
}
