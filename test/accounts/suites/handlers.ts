// The handlers with a recording reconciler instead of the hub, on the test hub's database: proves
// the transient states they write (section 4), what they tell the hub and when, and the REST
// status they ask for. The hub itself is never told about these accounts, so it leaves them be.
import { create, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { Writable } from "node:stream";
import { DrizzleQueryError } from "drizzle-orm";
import { Code, ConnectError, createContextValues, createHandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import {
  AccountsService,
  CreateAccountsRequestSchema,
  DeleteAccountsRequestSchema,
  MigrateAccountsRequestSchema,
  PutAccountRequestSchema,
  SetAccountStatesRequestSchema,
} from "../../../gen/agenthub/v1/accounts_pb.js";
import { NamesViolationSchema } from "../../../gen/agenthub/v1/errors_pb.js";
import { createAccountsService } from "../../../src/accounts/accounts-service.js";
import { loadConfig } from "../../../src/config/config.js";
import type { AccountChange } from "../../../src/hub/reconciler.js";
import { createLogger } from "../../../src/log/logger.js";
import { httpStatusKey, type HttpStatusSlot } from "../../../src/rest/http-status.js";
import type { Database } from "../../../src/store/database.js";
import type { TestHub } from "../../support/hub.js";
import { accountRow, insertAccount, seedClouddriver } from "../support.js";
import { SECRETS, SECRET_KUBECONFIG, SECRET_PASSWORD, SECRET_TOKEN } from "../../support/rest.js";

type Service = ServiceImpl<typeof AccountsService>;

function context(method: keyof typeof AccountsService.method) {
  const slot: HttpStatusSlot = { status: undefined };
  const ctx = createHandlerContext({
    service: AccountsService,
    method: AccountsService.method[method],
    protocolName: "test",
    requestMethod: "POST",
    url: "http://test/",
    contextValues: createContextValues().set(httpStatusKey, slot),
  });
  return { ctx, slot };
}

const value = (json: JsonValue) => fromJson(ValueSchema, json);

async function rejection(work: unknown): Promise<ConnectError> {
  const err = await Promise.resolve(work).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectError);
  return err as ConnectError;
}

function refusedNames(err: ConnectError): string[] {
  return err.findDetails(NamesViolationSchema).flatMap((d) => d.names);
}

/** Registers the handler tests; `hub` gives the running test hub, whose database they use. */
export function handlersSuite(hub: () => TestHub): void {
  describe("handlers with a recording reconciler", () => {
    let service: Service;
    const database = () => hub().app.database;
    /** Each accountsChanged call, with the statuses the hub would read at that moment. */
    const told: { changes: AccountChange[]; statuses: (string | undefined)[] }[] = [];

    beforeAll(() => {
      const reconciler = {
        async accountsChanged(changes: AccountChange[]) {
          const statuses = await Promise.all(changes.map(async (c) => (await accountRow(database(), c.name))?.status));
          told.push({ changes, statuses });
        },
      };
      service = createAccountsService({ database: database(), config: loadConfig({ env: {} }), reconciler, logger: createLogger("silent") });
    });

    async function patch(body: JsonValue) {
      const { ctx, slot } = context("setAccountStates");
      told.length = 0;
      await service.setAccountStates(create(SetAccountStatesRequestSchema, { changes: value(body) }), ctx);
      return slot.status;
    }

    describe("PATCH ACTIVE", () => {
      it.each(["INACTIVE", "FAILED", "ORPHANED", "ACTIVE"] as const)("from %s writes ACTIVATING, resets failed_count and tells the hub after commit", async (from) => {
        const name = `act-from-${from}`;
        await insertAccount(database(), { name, status: from, failedCount: 4 });
        const before = (await accountRow(database(), name))!;
        expect(await patch([{ name, state: "ACTIVE" }])).toBe(202);
        const after = (await accountRow(database(), name))!;
        expect(after.status).toBe("ACTIVATING");
        expect(after.failedCount).toBe(0);
        expect(after.version).toBe(before.version + 1);
        expect(told).toEqual([{ changes: [{ name, kind: "activate" }], statuses: ["ACTIVATING"] }]);
      });

      it("on ACTIVATING changes nothing and tells the hub nothing", async () => {
        await insertAccount(database(), { name: "act-busy", status: "ACTIVATING" });
        expect(await patch([{ name: "act-busy", state: "ACTIVE" }])).toBe(202);
        expect((await accountRow(database(), "act-busy"))!.status).toBe("ACTIVATING");
        expect(told).toEqual([]);
      });

      it("on ACTIVATING with new fields stores them and sends an update", async () => {
        await insertAccount(database(), { name: "act-busy-2", status: "ACTIVATING" });
        await patch([{ name: "act-busy-2", state: "ACTIVE", zoneId: "z9" }]);
        const row = (await accountRow(database(), "act-busy-2"))!;
        expect(row.status).toBe("ACTIVATING");
        expect(row.zoneId).toBe("z9");
        expect(told).toEqual([{ changes: [{ name: "act-busy-2", kind: "update" }], statuses: ["ACTIVATING"] }]);
      });

      it.each(["TO_DEACTIVATE", "DEACTIVATING", "DELETING", "TO_MIGRATE"] as const)("on %s is refused (failed_precondition) naming it; nothing changes", async (from) => {
        const name = `refuse-${from}`;
        await insertAccount(database(), { name, status: from });
        await insertAccount(database(), { name: `${name}-ok` });
        const err = await rejection(patch([{ name: `${name}-ok`, state: "ACTIVE" }, { name, state: "ACTIVE" }]));
        expect(err.code).toBe(Code.FailedPrecondition);
        expect(refusedNames(err)).toEqual([name]);
        expect((await accountRow(database(), name))!.status).toBe(from);
        expect((await accountRow(database(), `${name}-ok`))!.status).toBe("INACTIVE");
        expect(told).toEqual([]);
      });
    });

    describe("PATCH INACTIVE", () => {
      it.each(["INACTIVE", "ACTIVE", "ACTIVATING", "FAILED", "ORPHANED", "TO_DEACTIVATE", "DEACTIVATING"] as const)("from %s writes TO_DEACTIVATE", async (from) => {
        const name = `deact-from-${from}`;
        await insertAccount(database(), { name, status: from, failedCount: 2 });
        expect(await patch([{ name, state: "INACTIVE" }])).toBe(202);
        const row = (await accountRow(database(), name))!;
        expect(row.status).toBe("TO_DEACTIVATE");
        expect(row.failedCount).toBe(2);
        expect(told).toEqual([{ changes: [{ name, kind: "deactivate" }], statuses: ["TO_DEACTIVATE"] }]);
      });

      it("on DELETING is refused", async () => {
        await insertAccount(database(), { name: "deact-deleting", status: "DELETING" });
        const err = await rejection(patch([{ name: "deact-deleting", state: "INACTIVE" }]));
        expect(err.code).toBe(Code.FailedPrecondition);
        expect(refusedNames(err)).toEqual(["deact-deleting"]);
      });
    });

    it("PATCH stores zoneId, kubeconfigFile (either spelling), kubeconfigContents and serviceAccount", async () => {
      await insertAccount(database(), { name: "fields", definition: { name: "fields", kubeconfigContents: "old", metrics: true } });
      await patch([{ name: "fields", state: "INACTIVE", zoneId: "zone-b", kubeConfigFile: "/new/config", serviceAccount: false }]);
      const row = (await accountRow(database(), "fields"))!;
      expect(row.zoneId).toBe("zone-b");
      expect(row.definition).toEqual({ name: "fields", kubeconfigContents: "old", metrics: true, zoneId: "zone-b", kubeconfigFile: "/new/config", serviceAccount: false });
      await patch([{ name: "fields", state: "INACTIVE", zoneId: "", kubeconfigContents: "new" }]);
      const again = (await accountRow(database(), "fields"))!;
      expect(again.zoneId).toBeNull();
      expect(again.definition.kubeconfigContents).toBe("new");
    });

    it("DELETE writes DELETING from any state and tells the hub", async () => {
      await insertAccount(database(), { name: "del-a", status: "FAILED" });
      await insertAccount(database(), { name: "del-b", status: "ACTIVE" });
      const { ctx, slot } = context("deleteAccounts");
      told.length = 0;
      await service.deleteAccounts(create(DeleteAccountsRequestSchema, { names: ["del-a", "del-b"] }), ctx);
      expect(slot.status).toBe(202);
      expect((await accountRow(database(), "del-a"))!.status).toBe("DELETING");
      expect(told).toEqual([
        {
          changes: [
            { name: "del-a", kind: "delete" },
            { name: "del-b", kind: "delete" },
          ],
          statuses: ["DELETING", "DELETING"],
        },
      ]);
    });

    it("PUT of an existing account keeps its state and sends an update; a new one tells nothing", async () => {
      await insertAccount(database(), { name: "put-live", status: "ACTIVE" });
      const { ctx, slot } = context("putAccount");
      told.length = 0;
      await service.putAccount(create(PutAccountRequestSchema, { account: value({ name: "put-live", kubeconfigFile: "/v2", zoneId: "z" }) }), ctx);
      expect(slot.status).toBe(202);
      const row = (await accountRow(database(), "put-live"))!;
      expect(row.status).toBe("ACTIVE");
      expect(row.zoneId).toBe("z");
      expect(told).toEqual([{ changes: [{ name: "put-live", kind: "update" }], statuses: ["ACTIVE"] }]);

      told.length = 0;
      await service.putAccount(create(PutAccountRequestSchema, { account: value({ name: "put-new", serviceAccount: true }) }), context("putAccount").ctx);
      expect((await accountRow(database(), "put-new"))!.status).toBe("INACTIVE");
      expect(told).toEqual([]);
    });

    it("migrate and create answer 202 or 409 through the status slot and tell the hub nothing", async () => {
      await seedClouddriver(database(), "cd-one", { kubeconfigFile: "/cd" });
      told.length = 0;
      const migrate = context("migrateAccounts");
      expect(await service.migrateAccounts(create(MigrateAccountsRequestSchema, { accounts: value([{ name: "cd-one" }]) }), migrate.ctx)).toEqual({ conflicts: [] });
      expect(migrate.slot.status).toBe(202);
      const again = context("migrateAccounts");
      expect(await service.migrateAccounts(create(MigrateAccountsRequestSchema, { accounts: value([{ name: "cd-one" }]) }), again.ctx)).toEqual({ conflicts: ["cd-one"] });
      expect(again.slot.status).toBe(409);
      const created = context("createAccounts");
      const answer = await service.createAccounts(create(CreateAccountsRequestSchema, { accounts: value([{ name: "made", serviceAccount: true }, { name: "cd-one", serviceAccount: true }]) }), created.ctx);
      expect(answer).toEqual({ conflicts: ["cd-one"] });
      expect(created.slot.status).toBe(409);
      expect(told).toEqual([]);
    });

    it("never logs secret contents, not even when the database fails with them in its error", async () => {
      const lines: string[] = [];
      const logger = createLogger(
        "trace",
        new Writable({
          write(chunk: Buffer, _encoding, done) {
            lines.push(chunk.toString("utf8"));
            done();
          },
        }),
      );
      const config = loadConfig({ env: {} });
      const reconciler = { accountsChanged: async () => {} };
      const logged = createAccountsService({ database: database(), config, reconciler, logger });
      const secretive = { name: "logged", kubeconfigContents: SECRET_KUBECONFIG, token: SECRET_TOKEN, auth: { password: SECRET_PASSWORD } };
      await logged.createAccounts(create(CreateAccountsRequestSchema, { accounts: value(secretive) }), context("createAccounts").ctx);
      await logged.putAccount(create(PutAccountRequestSchema, { account: value(secretive) }), context("putAccount").ctx);
      await logged.setAccountStates(create(SetAccountStatesRequestSchema, { changes: value([{ name: "logged", state: "ACTIVE", kubeconfigContents: SECRET_KUBECONFIG }]) }), context("setAccountStates").ctx);

      // drizzle puts a failed statement's parameters (the definition) into its error message.
      const real = database();
      const failingDb = Object.create(real.db, {
        transaction: { value: () => Promise.reject(new DrizzleQueryError("insert into kubesvc_accounts ...", [JSON.stringify(secretive)], new Error("connection reset"))) },
      }) as Database["db"];
      const broken = createAccountsService({ database: { ...real, db: failingDb }, config, reconciler, logger });
      const err = await rejection(broken.createAccounts(create(CreateAccountsRequestSchema, { accounts: value({ ...secretive, name: "logged-2" }) }), context("createAccounts").ctx));
      expect(err.code).toBe(Code.Internal);
      const log = lines.join("");
      expect(log).toContain("accounts API call failed");
      expect(log).toContain("connection reset");
      for (const secret of SECRETS) {
        expect(log).not.toContain(secret);
        expect(err.rawMessage).not.toContain(secret);
      }
    });
  });
}
