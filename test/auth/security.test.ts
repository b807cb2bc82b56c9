import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { promisify } from "node:util";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASE_KINDS } from "../support/databases.js";
import { eventually } from "../support/eventually.js";
import { startTestHub, type TestHub } from "../support/hub.js";
import { connectTestAgent, type TestAgent } from "../hub/support/test-agent.js";
import { createTestPki, type Issued, type TestPki } from "./support/pki.js";
import { grpcWebRequest, h2Request, httpsRequest, servedCertificate, type TlsAnswer } from "./support/tls-requests.js";

const sha = (token: string) => createHash("sha256").update(token).digest("hex");
/** Bearer tokens by credential name; the file stores only their SHA-256. */
const TOKENS = {
  admin: "tok-admin-7f3a",
  operator: "tok-operator-1b2c",
  viewer: "tok-viewer-9d8e",
  agent: "tok-agent-5a6b",
  "agent-eu": "tok-agent-eu-3c4d",
  "viewer-eu": "tok-viewer-eu-0e1f",
  "operator-eu": "tok-operator-eu-2a3b",
  "admin-eu": "tok-admin-eu-4c5d",
} as const;

function credentialsYaml(extra = ""): string {
  return `
- {name: admin, tokenSha256: ${sha(TOKENS.admin)}, role: admin}
- {name: operator, tokenSha256: ${sha(TOKENS.operator)}, role: operator}
- {name: viewer, tokenSha256: ${sha(TOKENS.viewer)}, role: viewer}
- {name: agent, tokenSha256: ${sha(TOKENS.agent)}, role: agent}
- {name: agent-eu, tokenSha256: ${sha(TOKENS["agent-eu"])}, role: agent, agentIds: ["agent-eu-*"], zones: ["eu"]}
- {name: agents-by-cert, certificate: "agent-cert-*", role: agent}
- {name: viewer-eu, tokenSha256: ${sha(TOKENS["viewer-eu"])}, role: viewer, zones: ["eu"]}
- {name: operator-eu, tokenSha256: ${sha(TOKENS["operator-eu"])}, role: operator, zones: ["eu"]}
- {name: admin-eu, tokenSha256: ${sha(TOKENS["admin-eu"])}, role: admin, zones: ["eu", ""], accounts: ["eu-*", "shared-*"]}
${extra}`;
}

type Who = "none" | "bad" | "agent" | "viewer" | "operator" | "admin";
const tokenOf = (who: Who): string | undefined => (who === "none" ? undefined : who === "bad" ? "not-a-known-token" : TOKENS[who]);

/**
 * The role × route table (design section 14) this test proves, cell by cell, over real TLS.
 * Allowed cells give the route's own answer for the request used (202, 200, 400 for a name
 * Clouddriver lacks, 503 for an operation on an account no agent holds, ...).
 */
const ROUTES: { route: string; method: string; path: string; body?: (who: Who) => unknown; allowed: number; who: Who[] }[] = [
  { route: "GET /armory/accounts", method: "GET", path: "/armory/accounts", allowed: 200, who: ["viewer", "operator", "admin"] },
  { route: "GET /armory/accounts/{id}", method: "GET", path: "/armory/accounts/eu-one", allowed: 200, who: ["viewer", "operator", "admin"] },
  { route: "GET /armory/accounts/{id}/history", method: "GET", path: "/armory/accounts/eu-one/history", allowed: 200, who: ["viewer", "operator", "admin"] },
  { route: "GET /agents/kubernetes/accounts/{name}", method: "GET", path: "/agents/kubernetes/accounts/eu-one", allowed: 200, who: ["viewer", "operator", "admin"] },
  { route: "GET /armory/agents", method: "GET", path: "/armory/agents", allowed: 200, who: ["viewer", "operator", "admin"] },
  { route: "POST /armory/operations", method: "POST", path: "/armory/operations", body: () => ({ account: "eu-one", kind: "get", payload: {} }), allowed: 503, who: ["operator", "admin"] },
  { route: "POST /armory/accounts (migrate)", method: "POST", path: "/armory/accounts", body: () => [{ name: "not-in-clouddriver" }], allowed: 400, who: ["admin"] },
  { route: "PATCH /armory/accounts", method: "PATCH", path: "/armory/accounts", body: () => [{ name: "eu-one", state: "INACTIVE" }], allowed: 202, who: ["admin"] },
  { route: "PATCH /armory/accounts/dynamic", method: "PATCH", path: "/armory/accounts/dynamic", body: () => [{ name: "eu-one", state: "INACTIVE" }], allowed: 202, who: ["admin"] },
  { route: "POST /armory/accounts/dynamic", method: "POST", path: "/armory/accounts/dynamic", body: (who) => ({ name: `made-by-${who}`, kubeconfigFile: "/k", zoneId: "eu" }), allowed: 202, who: ["admin"] },
  { route: "PUT /armory/accounts/dynamic", method: "PUT", path: "/armory/accounts/dynamic", body: () => ({ name: "eu-one", kubeconfigFile: "/kube/eu-one", zoneId: "eu" }), allowed: 202, who: ["admin"] },
  { route: "DELETE /armory/accounts", method: "DELETE", path: "/armory/accounts", body: () => ["no-such-account"], allowed: 400, who: ["admin"] },
];
const EVERYONE: Who[] = ["none", "bad", "agent", "viewer", "operator", "admin"];
const CELLS = ROUTES.flatMap((r) => EVERYONE.map((who) => ({ ...r, caller: who, expected: who === "none" || who === "bad" ? 401 : r.who.includes(who) ? r.allowed : 403 })));

describe.each(DATABASE_KINDS)("security over TLS on %s", (kind) => {
  let pki: TestPki;
  let server: Issued;
  let agentCert: Issued;
  let foreignCert: Issued;
  let foreign: TestPki;
  let hub: TestHub;
  let port: number;
  let agentPort: number;
  const credentialsFile = () => join(pki.dir, "credentials.yaml");
  const agents: TestAgent[] = [];

  const rest = (method: string, path: string, who: Who | string | undefined, body?: unknown): Promise<TlsAnswer> =>
    httpsRequest(port, method, path, { ca: pki.ca, ...(who === undefined ? {} : { token: (tokenOf(who as Who) ?? who) as string }), ...(body === undefined ? {} : { body }) });

  function agentCredentials(token: string | undefined, cert?: Issued): grpc.ChannelCredentials {
    const ssl = grpc.credentials.createSsl(pki.ca, cert?.key ?? null, cert?.cert ?? null);
    if (token === undefined) return ssl;
    return grpc.credentials.combineChannelCredentials(
      ssl,
      grpc.credentials.createFromMetadataGenerator((_params, callback) => {
        const md = new grpc.Metadata();
        md.add("authorization", `Bearer ${token}`);
        callback(null, md);
      }),
    );
  }
  function agent(agentId: string, zoneId: string, token: string | undefined, options: { cert?: Issued; ca?: Buffer; port?: number } = {}): TestAgent {
    const a = connectTestAgent({
      target: `127.0.0.1:${options.port ?? port}`,
      agentId,
      zoneId,
      credentials: agentCredentials(token, options.cert),
      channelOptions: { "grpc.ssl_target_name_override": "localhost", "grpc.default_authority": "localhost" },
    });
    agents.push(a);
    return a;
  }

  beforeAll(async () => {
    pki = createTestPki();
    foreign = createTestPki("foreign");
    server = pki.issue("server", { cn: "localhost", dns: ["localhost"], ip: ["127.0.0.1"] });
    agentCert = pki.issue("agent-cert", { cn: "agent-cert-1", dns: ["agent-cert-1.agents.example"] });
    foreignCert = foreign.issue("intruder", { cn: "agent-cert-2" });
    writeFileSync(credentialsFile(), credentialsYaml());
    hub = await startTestHub(kind, {
      "tls.certFile": server.certFile,
      "tls.keyFile": server.keyFile,
      "tls.clientCaFile": pki.caFile,
      "auth.enabled": true,
      "auth.credentialsFile": credentialsFile(),
      "grpc.agentPort": 0,
      "heartbeat.interval": "300ms",
    });
    port = hub.app.port;
    agentPort = hub.app.agentPort!;
    for (const body of [
      { name: "eu-one", kubeconfigFile: "/kube/eu-one", zoneId: "eu" },
      { name: "us-one", kubeconfigFile: "/kube/us-one", zoneId: "us" },
      { name: "shared-unpinned", kubeconfigFile: "/kube/shared" },
    ]) {
      expect((await rest("POST", "/armory/accounts/dynamic", "admin", body)).status).toBe(202);
    }
  });

  afterAll(async () => {
    for (const a of agents) a.close();
    await hub?.stop();
    pki?.remove();
    foreign?.remove();
  });

  it("answers every role × route cell as the design's table says", async () => {
    const results: string[] = [];
    for (const cell of CELLS) {
      const res = await rest(cell.method, cell.path, cell.caller === "none" ? undefined : cell.caller, cell.body?.(cell.caller));
      results.push(`${cell.route} as ${cell.caller}: ${res.status}`);
      expect(res.status, `${cell.route} as ${cell.caller}: ${res.text}`).toBe(cell.expected);
      if (cell.expected === 401) {
        expect(res.headers["www-authenticate"]).toBe("Bearer");
        expect((res.json as { code: string }).code).toBe("unauthenticated");
      }
      if (cell.expected === 403) expect((res.json as { code: string }).code).toBe("permission_denied");
    }
    expect(results).toHaveLength(ROUTES.length * EVERYONE.length);
  });

  it("serves health without a credential, and refuses plaintext on both listeners", async () => {
    const check = await h2Request(port, "POST", "/grpc.health.v1.Health/Check", { ca: pki.ca, body: {}, headers: { "connect-protocol-version": "1" } });
    expect(check.status).toBe(200);
    expect(check.json).toEqual({ status: "SERVING" });
    for (const p of [port, agentPort]) {
      await expect(fetch(`http://127.0.0.1:${p}/armory/accounts`)).rejects.toThrow();
    }
  });

  it("speaks h2 and http/1.1 by ALPN, and Connect's protocol answers 401/403 the same way", async () => {
    const h2 = await h2Request(port, "GET", "/armory/accounts", { ca: pki.ca, token: TOKENS.viewer });
    expect(h2.alpn).toBe("h2");
    expect(h2.status).toBe(200);
    const anonymous = await h2Request(port, "POST", "/agenthub.v1.AccountsService/ListAccounts", { ca: pki.ca, body: {} });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers["www-authenticate"]).toBe("Bearer");
    expect((anonymous.json as { code: string }).code).toBe("unauthenticated");
    const agentRole = await httpsRequest(port, "POST", "/agenthub.v1.AccountsService/DeleteAccounts", { ca: pki.ca, token: TOKENS.agent, body: { names: ["eu-one"] } });
    expect(agentRole.status).toBe(403);
    expect((agentRole.json as { code: string }).code).toBe("permission_denied");
    // curl, as an operator would (asynchronously: the hub runs in this process).
    const args = ["-s", "--cacert", pki.caFile, "--resolve", `localhost:${port}:127.0.0.1`, "-H", `authorization: Bearer ${TOKENS.viewer}`, `https://localhost:${port}/armory/accounts/eu-one`];
    const { stdout } = await promisify(execFile)("curl", args, { encoding: "utf8", timeout: 10_000 });
    expect(JSON.parse(stdout)).toMatchObject({ name: "eu-one", zoneId: "eu" });
    await expect(promisify(execFile)("curl", ["-s", "-f", `http://127.0.0.1:${port}/armory/accounts`], { timeout: 10_000 })).rejects.toThrow();
  });

  it("serves gRPC-Web over TLS (HTTP/1.1, as a browser would) under the same authorizer", async () => {
    const list = (token: string | undefined) => grpcWebRequest(port, "/agenthub.v1.AccountsService/ListAccounts", { limit: 10 }, { ca: pki.ca, ...(token === undefined ? {} : { token }) });
    const ok = await list(TOKENS.viewer);
    expect(ok.status).toBe(200);
    expect(ok.grpcStatus).toBe("0");
    expect((ok.message as { items: { name: string }[] }).items.map((a) => a.name)).toContain("eu-one");
    const anonymous = await list(undefined);
    expect(anonymous.grpcStatus).toBe(String(grpc.status.UNAUTHENTICATED));
    expect(anonymous.message).toBeUndefined();
    const scoped = await list(TOKENS["viewer-eu"]);
    expect((scoped.message as { items: { name: string }[] }).items.map((a) => a.name)).not.toContain("us-one");
  });

  it("agents: a token or a client certificate opens the stream on both ports; none, a bad token or a foreign certificate is UNAUTHENTICATED; other roles PERMISSION_DENIED", async () => {
    const byToken = agent("agent-a-1", "eu", TOKENS.agent);
    await byToken.waitFor("welcome");
    const byCert = agent("agent-cert-1", "eu", undefined, { cert: agentCert, port: agentPort });
    await byCert.waitFor("welcome");
    expect((await agent("agent-x-1", "eu", undefined).ended).code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await agent("agent-x-2", "eu", "wrong-token", { port: agentPort }).ended).code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await agent("agent-cert-2", "eu", undefined, { cert: foreignCert }).ended).code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await agent("agent-x-3", "eu", TOKENS.admin).ended).code).toBe(grpc.status.PERMISSION_DENIED);
    expect((await agent("agent-x-4", "eu", TOKENS.viewer).ended).code).toBe(grpc.status.PERMISSION_DENIED);
    const listed = await rest("GET", "/armory/agents", "admin");
    expect((listed.json as { agentId: string }[]).map((a) => a.agentId)).toEqual(expect.arrayContaining(["agent-a-1", "agent-cert-1"]));
    expect((listed.json as { agentId: string }[]).map((a) => a.agentId)).not.toContain("agent-x-3");
    byToken.end();
    byCert.end();
  });

  it("hello's agent_id and zone_id must be allowed by the credential; a refused agent is not registered", async () => {
    const wrongId = agent("agent-us-1", "eu", TOKENS["agent-eu"]);
    expect(await wrongId.ended).toMatchObject({ code: grpc.status.PERMISSION_DENIED, details: expect.stringContaining("agent-us-1") });
    const wrongZone = agent("agent-eu-7", "us", TOKENS["agent-eu"]);
    expect(await wrongZone.ended).toMatchObject({ code: grpc.status.PERMISSION_DENIED, details: expect.stringContaining("zone") });
    const ids = ((await rest("GET", "/armory/agents", "admin")).json as { agentId: string }[]).map((a) => a.agentId);
    expect(ids).not.toContain("agent-us-1");
    expect(ids).not.toContain("agent-eu-7");
  });

  it("a stream under another credential cannot take over a connected agent's id; the same credential can", async () => {
    const first = agent("agent-eu-1", "eu", TOKENS["agent-eu"]);
    await first.waitFor("welcome");
    const thief = agent("agent-eu-1", "eu", TOKENS.agent);
    expect(await thief.ended).toMatchObject({ code: grpc.status.PERMISSION_DENIED, details: expect.stringContaining("another credential") });
    // The old stream stays and still works.
    const patched = await rest("PATCH", "/armory/accounts", "admin", [{ name: "eu-one", state: "ACTIVE" }]);
    expect(patched.status).toBe(202);
    await first.waitFor("add", (m) => m.assignments.some((a) => a.name === "eu-one"));
    const again = agent("agent-eu-1", "eu", TOKENS["agent-eu"]);
    await again.waitFor("welcome");
    expect((await first.ended).code).not.toBe(grpc.status.OK);
    // Another replica's agent: its kubesvc_agents row and credential are all this hub sees.
    await hub.app.database.db.execute(sql`INSERT INTO kubesvc_agents (agent_id, zone_id, hub_id) VALUES ('agent-eu-remote', 'eu', 'other-replica')`);
    await hub.app.database.db.execute(sql`INSERT INTO kubesvc_agent_credentials (agent_id, credential) VALUES ('agent-eu-remote', 'agent-eu')`);
    expect((await agent("agent-eu-remote", "eu", TOKENS.agent).ended).code).toBe(grpc.status.PERMISSION_DENIED);
    again.end();
  });

  it("viewers and operators see only their scope; out of scope reads as absent", async () => {
    const list = (await rest("GET", "/armory/accounts", "viewer-eu")).json as { items: { name: string }[]; total: number };
    const all = (await rest("GET", "/armory/accounts", "viewer")).json as { items: { name: string; zoneId: string }[] };
    const eu = all.items.filter((i) => i.zoneId === "eu").map((i) => i.name);
    expect(eu).toContain("eu-one");
    expect(all.items.length).toBeGreaterThan(eu.length);
    expect(list.items.map((i) => i.name)).toEqual(eu);
    expect(list.total).toBe(eu.length);
    expect((await rest("GET", "/armory/accounts/us-one", "viewer-eu")).status).toBe(404);
    expect((await rest("GET", "/armory/accounts/eu-one", "viewer-eu")).status).toBe(200);
    expect((await rest("GET", "/agents/kubernetes/accounts/us-one", "viewer-eu")).text).toBe("{}");
    expect((await rest("GET", "/armory/accounts/us-one/history", "viewer-eu")).status).toBe(404);
    const zones = ((await rest("GET", "/armory/agents", "viewer-eu")).json as { zoneId: string }[]).map((a) => a.zoneId);
    expect(zones.every((z) => z === "eu")).toBe(true);
    const op = await rest("POST", "/armory/operations", "operator-eu", { account: "us-one", kind: "get", payload: {} });
    expect(op.status).toBe(403);
    expect(op.json).toMatchObject({ code: "permission_denied", details: [{ names: ["us-one"] }] });
  });

  it("a scoped admin's request that names any account out of scope is refused whole, nothing written", async () => {
    const before = (await rest("GET", "/armory/accounts/eu-one", "admin")).json as { status: string; config: unknown };
    const mixed = await rest("PATCH", "/armory/accounts", "admin-eu", [{ name: "eu-one", state: "INACTIVE" }, { name: "us-one", state: "ACTIVE" }]);
    expect(mixed.status).toBe(403);
    expect(mixed.json).toMatchObject({ code: "permission_denied", details: [{ names: ["us-one"] }] });
    const moved = await rest("PATCH", "/armory/accounts", "admin-eu", [{ name: "eu-one", state: "ACTIVE", zoneId: "evil" }]);
    expect(moved.status).toBe(403);
    const created = await rest("POST", "/armory/accounts/dynamic", "admin-eu", [{ name: "eu-two", kubeconfigFile: "/k", zoneId: "eu" }, { name: "eu-three", kubeconfigFile: "/k", zoneId: "us" }]);
    expect(created.status).toBe(403);
    expect((await rest("GET", "/armory/accounts/eu-two", "admin")).status).toBe(404);
    const after = (await rest("GET", "/armory/accounts/eu-one", "admin")).json as { status: string; config: unknown };
    expect(after).toEqual(before);
    expect((await rest("DELETE", "/armory/accounts", "admin-eu", ["us-one"])).status).toBe(403);
    expect((await rest("PUT", "/armory/accounts/dynamic", "admin-eu", { name: "shared-unpinned", kubeconfigFile: "/kube/shared-2" })).status).toBe(202);
  });

  it("records every accepted change with its actor in the audit history, newest first, paged, secrets redacted", async () => {
    expect((await rest("POST", "/armory/accounts/dynamic", "admin", { name: "eu-audited", kubeconfigContents: "CONTENTS-a7", apiToken: "encrypted:ref", zoneId: "eu" })).status).toBe(202);
    expect((await rest("PUT", "/armory/accounts/dynamic", "admin-eu", { name: "eu-audited", kubeconfigContents: "CONTENTS-b8", zoneId: "eu", namespaces: ["a"] })).status).toBe(202);
    expect((await rest("DELETE", "/armory/accounts", "admin", ["eu-audited"])).status).toBe(202);
    let history: { items: { actor: string; action: string; status: string; fields: Record<string, unknown>; at: string }[]; total: number; page: number; limit: number } | undefined;
    for (let i = 0; i < 50; i++) {
      history = (await rest("GET", "/armory/accounts/eu-audited/history", "viewer")).json as typeof history;
      if (history!.items[0]?.action === "delete") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const items = history!.items;
    const n = items.length;
    // Newest first: the row's removal, (DELETING by the admin, when the hub did not remove it at once), the PUT, the create.
    expect(items[0]).toMatchObject({ action: "delete", status: "DELETED" });
    expect(items.slice(-2).map((i) => [i.actor, i.action])).toEqual([
      ["admin-eu", "update"],
      ["admin", "create"],
    ]);
    for (const i of items.slice(1, -2)) expect(i).toMatchObject({ actor: "admin", action: "status", status: "DELETING" });
    expect(items[n - 2]!.fields).toEqual({ kubeconfigContents: "<redacted>", namespaces: ["a"], apiToken: null });
    expect(items[n - 1]!.fields).toMatchObject({ kubeconfigContents: "<redacted>", apiToken: "encrypted:ref", zoneId: "eu" });
    expect(Date.parse(items[0]!.at)).toBeGreaterThan(0);
    expect(history!.total).toBe(n);
    const page2 = (await rest("GET", `/armory/accounts/eu-audited/history?page=2&limit=${n - 1}`, "viewer")).json as typeof history;
    expect(page2).toMatchObject({ page: 2, limit: n - 1, total: n, items: [{ action: "create" }] });
    expect((await rest("GET", "/armory/accounts/eu-audited/history?limit=0", "viewer")).status).toBe(400);
    expect((await rest("GET", "/armory/accounts/never-existed/history", "viewer")).status).toBe(404);
  });

  it("re-reads the credentials file: a new credential works, a bad file keeps the last good one, a removed one is refused", async () => {
    expect((await rest("GET", "/armory/accounts", "tok-late-viewer")).status).toBe(401);
    writeFileSync(credentialsFile(), credentialsYaml(`- {name: late, tokenSha256: ${sha("tok-late-viewer")}, role: viewer}`));
    await eventually(async () => expect((await rest("GET", "/armory/accounts", "tok-late-viewer")).status).toBe(200), 8_000);
    writeFileSync(credentialsFile(), "- {name: broken, role: nobody}\n");
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await rest("GET", "/armory/accounts", "tok-late-viewer")).status).toBe(200);
    writeFileSync(credentialsFile(), credentialsYaml());
    await eventually(async () => expect((await rest("GET", "/armory/accounts", "tok-late-viewer")).status).toBe(401), 8_000);
  });

  it("re-reads the certificate without a restart and without dropping open streams", async () => {
    const open = agent("agent-a-9", "eu", TOKENS.agent);
    await open.waitFor("welcome");
    const before = await servedCertificate(port, pki.ca);
    const renewed = pki.issue("server-renewed", { cn: "localhost", dns: ["localhost"], ip: ["127.0.0.1"] });
    writeFileSync(server.keyFile, renewed.key);
    writeFileSync(server.certFile, renewed.cert);
    await eventually(async () => expect((await servedCertificate(port, pki.ca)).serialNumber).not.toBe(before.serialNumber), 8_000);
    expect((await servedCertificate(agentPort, pki.ca)).serialNumber).not.toBe(before.serialNumber);
    // The stream opened under the old certificate still carries messages both ways.
    expect((await rest("PATCH", "/armory/accounts", "admin", [{ name: "shared-unpinned", state: "ACTIVE" }])).status).toBe(202);
    await eventually(async () => {
      const got = (await rest("GET", "/armory/accounts/shared-unpinned", "admin")).json as { status: string };
      expect(got.status).toBe("ACTIVE");
    }, 8_000);
    let ended = false;
    void open.ended.then(() => (ended = true));
    expect(ended).toBe(false);
    open.end();
  });

  it("accepts JWTs signed by a key of auth.jwt.jwksFile with the configured issuer and audience", async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const jwksFile = join(pki.dir, "jwks.json");
    writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" }] }));
    const jwtHub = await startTestHub(kind, {
      "tls.certFile": server.certFile,
      "tls.keyFile": server.keyFile,
      "auth.enabled": true,
      "auth.jwt.jwksFile": jwksFile,
      "auth.jwt.issuer": "https://issuer.test",
      "auth.jwt.audience": "agent-hub",
    });
    try {
      const sign = (claims: Record<string, unknown>, audience = "agent-hub") =>
        new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: "k1" }).setSubject("ci-bot").setIssuer("https://issuer.test").setAudience(audience).setExpirationTime("5m").sign(privateKey);
      const ask = async (token: string, method = "GET", path = "/armory/accounts", body?: unknown) => httpsRequest(jwtHub.app.port, method, path, { ca: pki.ca, token, ...(body === undefined ? {} : { body }) });
      expect((await ask(await sign({ role: "viewer" }))).status).toBe(200);
      expect((await ask(await sign({ role: "viewer" }), "DELETE", "/armory/accounts", ["x"])).status).toBe(403);
      expect((await ask(await sign({ role: "viewer" }, "someone-else"))).status).toBe(401);
      expect((await ask(await sign({ role: "wizard" }))).status).toBe(401);
      const scoped = (await ask(await sign({ role: "viewer", zones: ["nowhere"] }))).json as { items: unknown[] };
      expect(scoped.items).toEqual([]);

      // The JWKS file is re-read on change: after a key rotation the new key's tokens are
      // accepted and the retired key's refused, without a restart.
      const next = await generateKeyPair("ES256");
      writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(next.publicKey)), kid: "k2", alg: "ES256" }] }));
      const signWithNext = () =>
        new SignJWT({ role: "viewer" }).setProtectedHeader({ alg: "ES256", kid: "k2" }).setSubject("ci-bot").setIssuer("https://issuer.test").setAudience("agent-hub").setExpirationTime("5m").sign(next.privateKey);
      await eventually(async () => expect((await ask(await signWithNext())).status).toBe(200));
      expect((await ask(await sign({ role: "viewer" }))).status).toBe(401);
    } finally {
      await jwtHub.stop();
    }
  });
});
