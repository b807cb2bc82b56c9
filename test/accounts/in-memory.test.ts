import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport, type Client } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AccountsService } from "../../gen/agenthub/v1/accounts_pb.js";
import { FieldViolationSchema, NamesViolationSchema } from "../../gen/agenthub/v1/errors_pb.js";
import { createAccountsService } from "../../src/accounts/accounts-service.js";
import { createAuth, type Auth } from "../../src/auth/auth.js";
import { loadConfig } from "../../src/config/config.js";
import type { AccountChange } from "../../src/hub/reconciler.js";
import { createLogger } from "../../src/log/logger.js";
import { createZoneLookup } from "../../src/server/zone-lookup.js";
import type { Database } from "../../src/store/database.js";
import { openTestDatabase } from "../support/databases.js";
import { SECRET_KUBECONFIG, SECRETS } from "../support/rest.js";

/**
 * The Dynamic Accounts service called through `createRouterTransport`: the handlers, the auth
 * interceptor and a PGlite store, no socket and no hub. The reconciler is a recorder, so the
 * transient states the API writes stay as written. Transport and REST tests cover the rest.
 */

const logger = createLogger("silent");
const VIEWER_TOKEN = "tok-viewer-in-memory";
const ADMIN_TOKEN = "tok-admin-in-memory";
const sha = (token: string) => createHash("sha256").update(token).digest("hex");
const body = (json: JsonValue) => fromJson(ValueSchema, json);

/** The error a call failed with; fails the test when the call succeeded. */
async function failure(call: Promise<unknown>): Promise<ConnectError> {
  const outcome = await call.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(outcome).toBeInstanceOf(ConnectError);
  return outcome as ConnectError;
}

describe("accounts service in memory (router transport, PGlite)", () => {
  let database: Database;
  let dir: string;
  const told: AccountChange[][] = [];
  const auths: Auth[] = [];

  /** A client of a fresh service on the shared database; `config` are configuration keys by path. */
  function accountsClient(config: Record<string, unknown> = {}): Client<typeof AccountsService> {
    const hubConfig = loadConfig({ env: {}, overrides: { "log.level": "silent", ...config } });
    const reconciler = {
      accountsChanged: async (changes: AccountChange[]) => {
        told.push(changes);
      },
    };
    const service = createAccountsService({ database, config: hubConfig, reconciler, logger });
    const auth = createAuth(hubConfig, { database, zones: createZoneLookup(database, hubConfig.clouddriver.schema), logger });
    auths.push(auth);
    const transport = createRouterTransport((router) => router.service(AccountsService, service), { router: { interceptors: auth.interceptors } });
    return createClient(AccountsService, transport);
  }

  beforeAll(async () => {
    database = await openTestDatabase("pglite");
    dir = mkdtempSync(join(tmpdir(), "agent-hub-in-memory-"));
  });
  afterEach(() => {
    for (const auth of auths.splice(0)) auth.close();
    told.length = 0;
  });
  afterAll(async () => {
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("creates, reads and changes accounts, and tells the reconciler what to act on", async () => {
    const accounts = accountsClient();
    const created = await accounts.createAccounts({ accounts: body([{ name: "mem-one", kubeconfigContents: SECRET_KUBECONFIG, zoneId: "z1" }, { name: "mem-two", kubeconfigFile: "/k" }]) });
    expect(created.conflicts).toEqual([]);
    const again = await accounts.createAccounts({ accounts: body({ name: "mem-one", kubeconfigFile: "/k" }) });
    expect(again.conflicts).toEqual(["mem-one"]);

    const { account } = await accounts.getAccount({ accountId: "mem-one" });
    expect(account).toMatchObject({ name: "mem-one", status: "INACTIVE", zoneId: "z1" });
    const shown = JSON.stringify(account?.config);
    for (const secret of SECRETS) expect(shown).not.toContain(secret);
    const listed = await accounts.listAccounts({ namePrefix: "mem-" });
    expect(listed.total).toBe(2);
    expect(listed.items.map((a) => a.name).sort()).toEqual(["mem-one", "mem-two"]);

    // Creating tells the hub nothing (the accounts are INACTIVE); activating does, once committed.
    expect(told).toEqual([]);
    await accounts.setAccountStates({ changes: body([{ name: "mem-one", state: "ACTIVE" }]) });
    expect(told).toEqual([[{ name: "mem-one", kind: "activate" }]]);
    expect((await accounts.getAccount({ accountId: "mem-one" })).account?.status).toBe("ACTIVATING");

    const history = await accounts.getAccountHistory({ accountId: "mem-one" });
    expect(history.items.map((e) => [e.action, e.actor])).toEqual(expect.arrayContaining([["create", "anonymous"]]));
  });

  it("answers with ConnectErrors carrying the codes and details the REST mapping relies on", async () => {
    const accounts = accountsClient();
    const missing = await failure(accounts.getAccount({ accountId: "mem-nobody" }));
    expect(missing.code).toBe(Code.NotFound);

    const invalid = await failure(accounts.createAccounts({ accounts: body([{ name: "mem-ok", kubeconfigFile: "/k" }, { kubeconfigFile: "/k" }]) }));
    expect(invalid.code).toBe(Code.InvalidArgument);
    expect(invalid.findDetails(FieldViolationSchema).map((v) => v.field)).toContain("[1].name");
    expect((await accounts.listAccounts({ namePrefix: "mem-ok" })).total).toBe(0);

    const unknown = await failure(accounts.deleteAccounts({ names: ["mem-nobody"] }));
    expect(unknown.code).toBe(Code.InvalidArgument);
    expect(unknown.findDetails(NamesViolationSchema).flatMap((v) => v.names)).toEqual(["mem-nobody"]);

    await accounts.createAccounts({ accounts: body({ name: "mem-busy", kubeconfigFile: "/k" }) });
    await accounts.setAccountStates({ changes: body([{ name: "mem-busy", state: "INACTIVE" }]) });
    const refused = await failure(accounts.setAccountStates({ changes: body([{ name: "mem-busy", state: "ACTIVE" }]) }));
    expect(refused.code).toBe(Code.FailedPrecondition);
    expect(refused.findDetails(NamesViolationSchema)).toEqual([expect.objectContaining({ names: ["mem-busy"], reason: "cannot be activated while TO_DEACTIVATE" })]);

    const disabled = accountsClient({ "dynamicAccounts.enabled": false });
    expect((await failure(disabled.createAccounts({ accounts: body({ name: "mem-off", kubeconfigFile: "/k" }) }))).code).toBe(Code.Unimplemented);
    expect((await disabled.listAccounts({ namePrefix: "mem-busy" })).total).toBe(1);
  });

  it("runs the auth interceptor: no token, a viewer writing, and an admin whose name the audit records", async () => {
    const credentialsFile = join(dir, "credentials.yaml");
    writeFileSync(credentialsFile, `- {name: mem-viewer, tokenSha256: ${sha(VIEWER_TOKEN)}, role: viewer}\n- {name: mem-admin, tokenSha256: ${sha(ADMIN_TOKEN)}, role: admin}\n`);
    const accounts = accountsClient({ "auth.enabled": true, "auth.credentialsFile": credentialsFile });
    const as = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

    expect((await failure(accounts.listAccounts({}))).code).toBe(Code.Unauthenticated);
    expect((await failure(accounts.listAccounts({}, as("tok-wrong")))).code).toBe(Code.Unauthenticated);
    expect((await failure(accounts.createAccounts({ accounts: body({ name: "mem-viewed", kubeconfigFile: "/k" }) }, as(VIEWER_TOKEN)))).code).toBe(Code.PermissionDenied);
    expect((await accounts.listAccounts({ namePrefix: "mem-viewed" }, as(VIEWER_TOKEN))).total).toBe(0);

    await accounts.createAccounts({ accounts: body({ name: "mem-audited", kubeconfigFile: "/k" }) }, as(ADMIN_TOKEN));
    const history = await accounts.getAccountHistory({ accountId: "mem-audited" }, as(VIEWER_TOKEN));
    expect(history.items.map((e) => [e.action, e.actor])).toEqual([["create", "mem-admin"]]);
  });
});
