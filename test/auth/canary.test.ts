import { createHash } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertClouddriverAccount } from "../../src/clouddriver/seed.js";
import { loadConfig } from "../../src/config/config.js";
import { createLogger } from "../../src/log/logger.js";
import { startApp, type HubApp } from "../../src/server/app.js";
import { queryRows } from "../../src/store/query-rows.js";
import { connectTestAgent, type TestAgent } from "../hub/support/test-agent.js";
import { DATABASE_KINDS, openTestDatabase } from "../support/databases.js";

/** Planted secrets: none may appear in a log line, a response, an error or an audit record. */
const CANARY = {
  kubeconfig: "CANARY-KUBECONFIG-4b1d",
  token: "CANARY-TOKEN-77aa",
  password: "CANARY-PASSWORD-9c0e",
  autoscan: "CANARY-AUTOSCAN-e3f1",
  interceptor: "CANARY-INTERCEPTOR-51d2",
  staticAccount: "CANARY-STATIC-08ab",
  operation: "CANARY-OPERATION-6d6d",
  bearer: "CANARY-BEARER-admin-2f2f",
  badBearer: "CANARY-BAD-BEARER-1a1a",
  forced: "CANARY-FORCED-DB-ERROR-c4c4",
};
const ALL = Object.values(CANARY);

describe.each(DATABASE_KINDS)("no secret ever leaves (%s)", (kind) => {
  const lines: string[] = [];
  const bodies: string[] = [];
  const errors: string[] = [];
  let app: HubApp;
  let stopDb: () => Promise<void>;
  let agent: TestAgent;
  let url: string;

  const call = async (method: string, path: string, body: unknown, token: string = CANARY.bearer) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    bodies.push(text);
    return { status: res.status, text };
  };

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "agent-hub-canary-"));
    const credentialsFile = join(dir, "credentials.yaml");
    const hash = (t: string) => createHash("sha256").update(t).digest("hex");
    writeFileSync(credentialsFile, `- {name: admin, tokenSha256: ${hash(CANARY.bearer)}, role: admin}\n- {name: agents, tokenSha256: ${hash("agent-token")}, role: agent}\n`);
    const database = await openTestDatabase(kind);
    stopDb = async () => {
      await database.close();
      await database.dropSchema();
    };
    // A forced database error whose statement parameters carry a canary.
    await database.db.execute(sql.raw(`CREATE FUNCTION canary_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.name LIKE 'boom-%' THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$`));
    await database.db.execute(sql.raw(`CREATE TRIGGER canary_refuse BEFORE INSERT OR UPDATE ON kubesvc_accounts FOR EACH ROW EXECUTE FUNCTION canary_refuse()`));
    await insertClouddriverAccount(database, "", { name: "scanned-1", type: "kubernetes:agent", body: { kubeconfigContents: CANARY.autoscan, zoneId: "z" } });
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString("utf8"));
        done();
      },
    });
    const config = loadConfig({
      env: {},
      overrides: {
        port: 0,
        host: "127.0.0.1",
        "log.level": "trace",
        "auth.enabled": true,
        "auth.credentialsFile": credentialsFile,
        "autoscan.enabled": true,
        "autoscan.frequency": "1h",
        "interceptor.enabled": true,
        "heartbeat.interval": "200ms",
      },
    });
    app = await startApp(config, { database, logger: createLogger("trace", sink) });
    url = `http://127.0.0.1:${app.port}`;
  });

  afterAll(async () => {
    agent?.close();
    await app?.close();
    await stopDb?.();
  });

  it("through the API, the agent protocol, autoscan, the interceptor, the auth interceptor and forced database errors", async () => {
    // On a plaintext channel grpc-js sends no call credentials: the token goes as the call's metadata.
    agent = connectTestAgent({
      target: `127.0.0.1:${app.port}`,
      agentId: "agent-z-1",
      zoneId: "z",
      staticAccounts: [{ name: "static-1", config: { kubeconfigContents: CANARY.staticAccount } }],
      onOperation: () => ({ outcome: "OK", result: { done: true } }),
      metadata: { authorization: "Bearer agent-token" },
    });
    await agent.waitFor("welcome");

    expect((await call("POST", "/armory/accounts/dynamic", { name: "canary-1", kubeconfigContents: CANARY.kubeconfig, zoneId: "z" })).status).toBe(202);
    expect((await call("PUT", "/armory/accounts/dynamic", { name: "canary-1", kubeconfigContents: CANARY.kubeconfig, bearerToken: CANARY.token, zoneId: "z" })).status).toBe(202);
    expect((await call("PATCH", "/armory/accounts", [{ name: "canary-1", state: "ACTIVE", kubeconfigContents: CANARY.password }])).status).toBe(202);
    await agent.waitFor("add", (m) => m.assignments.some((a) => a.name === "canary-1"));
    const op = await call("POST", "/armory/operations", { account: "canary-1", kind: "apply", payload: { manifest: { token: CANARY.operation } } });
    expect(op.status).toBe(200);
    expect((await app.autoscan!.scanOnce()).activated).toEqual(["scanned-1"]);
    expect((await call("POST", "/credentials", { type: "kubernetes", name: "intercepted-1", kubeconfigContents: CANARY.interceptor })).status).toBe(200);
    // Forced database errors, with canaries in the statements' parameters.
    const failedCreate = await call("POST", "/armory/accounts/dynamic", { name: "boom-1", kubeconfigContents: CANARY.forced });
    expect(failedCreate.status).toBe(500);
    expect((await call("POST", "/credentials", { type: "kubernetes", name: "boom-2", kubeconfigContents: CANARY.forced })).status).toBe(500);
    // The auth interceptor refusing a token that is itself a canary.
    const refused = await call("GET", "/armory/accounts", undefined, CANARY.badBearer);
    expect(refused.status).toBe(401);
    const anonymousAgent = connectTestAgent({ target: `127.0.0.1:${app.port}`, agentId: "agent-z-2", zoneId: "z", metadata: { authorization: `Bearer ${CANARY.badBearer}` } });
    const ended = await anonymousAgent.ended;
    errors.push(ended.details);
    expect(ended.code).toBe(16);
    anonymousAgent.close();
    for (const path of ["/armory/accounts", "/armory/accounts/canary-1", "/armory/accounts/canary-1/history", "/armory/accounts/scanned-1/history", "/armory/accounts/intercepted-1", "/agents/kubernetes/accounts/static-1", "/armory/agents"]) {
      expect((await call("GET", path, undefined)).status).toBe(200);
    }

    const audit = await queryRows<{ row: string }>(app.database.db, sql`SELECT row_to_json(e)::text AS row FROM kubesvc_account_events e`);
    expect(audit.length).toBeGreaterThan(5);
    const logged = lines.join("");
    // The planted errors were logged, so the scan below looked at real failures.
    expect(logged).toContain("refused by the test");
    expect(logged).toContain("Failed query");
    for (const canary of ALL) {
      expect(logged, `log contains ${canary}`).not.toContain(canary);
      for (const b of bodies) expect(b, `a response contains ${canary}`).not.toContain(canary);
      for (const e of errors) expect(e).not.toContain(canary);
      for (const a of audit) expect(a.row, `an audit record contains ${canary}`).not.toContain(canary);
    }
  });
});
