// Clouddriver's POST/PUT /credentials served by a real hub (interceptor on), with plain fetch and a
// fake agent that answers OK, so that intercepted accounts really go ACTIVE.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConnectResponse } from "../../gen/agenthub/v1/agent_pb.js";
import { connectFakeAgent, type FakeAgent } from "../accounts/fake-agent.js";
import { accountRow, accountRows, detailFields, detailNames, expectError, insertAccount, seedClouddriver, setStatus } from "../accounts/support.js";
import { SECRET_KUBECONFIG, SECRET_TOKEN, call } from "../support/rest.js";
import { eventually } from "../support/eventually.js";
import { DATABASE_KINDS } from "../support/databases.js";
import { startTestHub, type TestHub } from "../support/hub.js";

interface Shown {
  status: string;
  agents: { agentId: string; caching: boolean }[];
  config: Record<string, unknown>;
}

/** The config the agent last got for `name` in AddAccounts/SaveAccounts, and which message it was. */
function lastSent(received: readonly ConnectResponse[], name: string): { kind: string; config: Record<string, unknown> } | undefined {
  let found: { kind: string; config: Record<string, unknown> } | undefined;
  for (const { msg } of received) {
    if (msg.case !== "addAccounts" && msg.case !== "saveAccounts") continue;
    const assignment = msg.value.assignments.find((a) => a.account?.name === name);
    if (assignment !== undefined) found = { kind: msg.case, config: (assignment.account?.config ?? {}) as Record<string, unknown> };
  }
  return found;
}

describe.each(DATABASE_KINDS)("interceptor on %s", (kind) => {
  let hub: TestHub;
  let agent: FakeAgent;

  beforeAll(async () => {
    hub = await startTestHub(kind, { "interceptor.enabled": true });
    agent = connectFakeAgent(hub.url, "agent-i", "zone-i");
    await eventually(async () => {
      const agents = (await call(hub, "GET", "/armory/agents")).json as unknown[];
      expect(agents).toHaveLength(1);
      return agents;
    });
  });
  afterAll(async () => {
    await agent.close();
    await hub.stop();
  });

  const db = () => hub.app.database;
  const show = async (name: string) => (await call(hub, "GET", `/armory/accounts/${name}`)).json as Shown;
  const until = (name: string, ok: (a: Shown) => boolean) =>
    eventually(async () => {
      const shown = await show(name);
      expect(ok(shown), `${name}: ${JSON.stringify(shown)}`).toBe(true);
      return shown;
    });
  /** Every row of the hub's accounts table, to prove a refused request wrote nothing. */
  const everything = async () => JSON.stringify(await accountRows(db()));

  it("POST stores a kubernetes account, activates it and answers 200 with the definition, secrets redacted", async () => {
    const definition = { type: "kubernetes", name: "icpt-1", kubeconfigContents: SECRET_KUBECONFIG, token: SECRET_TOKEN, namespaces: ["a"], extra: { kept: true } };
    const answer = await call(hub, "POST", "/credentials", definition);
    expect(answer.status, answer.text).toBe(200);
    expect(answer.json).toEqual({ ...definition, kubeconfigContents: "<redacted>", token: "<redacted>" });

    expect(await accountRow(db(), "icpt-1")).toMatchObject({ origin: "interceptor", source: "clouddriver", type: "kubernetes" });
    expect(await until("icpt-1", (a) => a.status === "ACTIVE")).toMatchObject({ agents: [{ agentId: "agent-i", caching: true }] });
    // The agent gets the real contents: it needs them.
    expect(lastSent(agent.received, "icpt-1")).toMatchObject({ kind: "addAccounts", config: { kubeconfigContents: SECRET_KUBECONFIG } });
  });

  it("POST on a name the hub has → 409 already_exists naming it, nothing changed", async () => {
    expect((await call(hub, "POST", "/armory/accounts/dynamic", { name: "icpt-created", kubeconfigFile: "/k" })).status).toBe(202);
    const before = await everything();
    for (const name of ["icpt-1", "icpt-created"]) {
      const details = expectError(await call(hub, "POST", "/credentials", { type: "kubernetes", name, kubeconfigFile: "/other" }), 409, "already_exists");
      expect(detailNames(details)).toEqual([name]);
    }
    expect(await everything()).toBe(before);
  });

  it("PUT on an ACTIVE account replaces the definition and pushes it to the holder; it stays ACTIVE", async () => {
    const answer = await call(hub, "PUT", "/credentials", { type: "kubernetes", name: "icpt-1", kubeconfigFile: "/k/new" });
    expect(answer.status, answer.text).toBe(200);
    expect(answer.json).toEqual({ type: "kubernetes", name: "icpt-1", kubeconfigFile: "/k/new" });
    const pushed = await eventually(async () => {
      const sent = lastSent(agent.received, "icpt-1");
      expect(sent?.config.kubeconfigFile).toBe("/k/new");
      return sent;
    });
    expect(pushed?.kind).toBe("saveAccounts");
    expect(pushed?.config.kubeconfigContents).toBeUndefined();
    expect(await until("icpt-1", (a) => a.status === "ACTIVE")).toMatchObject({ status: "ACTIVE", config: { kubeconfigFile: "/k/new" } });
  });

  it("PUT creates a missing account and activates it; on an INACTIVE one it activates it, keeping its origin", async () => {
    expect((await call(hub, "PUT", "/credentials", { type: "kubernetes", name: "icpt-put", kubeconfigFile: "/k" })).status).toBe(200);
    expect(await accountRow(db(), "icpt-put")).toMatchObject({ origin: "interceptor" });
    await until("icpt-put", (a) => a.status === "ACTIVE");

    expect((await show("icpt-created")).status).toBe("INACTIVE");
    expect((await call(hub, "PUT", "/credentials", { type: "kubernetes", name: "icpt-created", kubeconfigFile: "/k/2" })).status).toBe(200);
    expect(await until("icpt-created", (a) => a.status === "ACTIVE")).toMatchObject({ config: { kubeconfigFile: "/k/2" } });
    expect(await accountRow(db(), "icpt-created")).toMatchObject({ origin: "created" });
  });

  it("refuses what the hub does not serve, naming it: arrays, other types, a missing type, invalid definitions", async () => {
    const before = await everything();
    for (const method of ["POST", "PUT"]) {
      const array = expectError(await call(hub, method, "/credentials", [{ type: "kubernetes", name: "icpt-arr", kubeconfigFile: "/k" }]), 400, "invalid_argument");
      expect(detailFields(array)).toEqual(["body"]);

      const aws = await call(hub, method, "/credentials", { type: "aws", name: "icpt-aws", accountId: "1" });
      expect(detailFields(expectError(aws, 400, "invalid_argument"))).toEqual(["type"]);
      expect((aws.json as { message: string }).message).toContain('"aws"');

      const untyped = expectError(await call(hub, method, "/credentials", { name: "icpt-untyped", kubeconfigFile: "/k" }), 400, "invalid_argument");
      expect(detailFields(untyped)).toEqual(["type"]);

      const invalid = expectError(await call(hub, method, "/credentials", { type: "kubernetes", name: "", kubeconfigFile: 3 }), 400, "invalid_argument");
      // Not a string, so no credentials either: that is reported on the body.
      expect(detailFields(invalid).sort()).toEqual(["body", "kubeconfigFile", "name"]);

      const empty = expectError(await call(hub, method, "/credentials", undefined, { contentType: "application/json" }), 400, "invalid_argument");
      expect(detailFields(empty)).toEqual(["body"]);
    }
    expect(await everything()).toBe(before);
  });

  it("a static account: POST → 409, PUT → 400; a name only in Clouddriver's table → 409 (migrate it instead)", async () => {
    await insertAccount(db(), { name: "icpt-static", source: "static-agent-config", origin: "static", status: "ACTIVE" });
    await seedClouddriver(db(), "icpt-cd-only", { kubeconfigFile: "/k" });
    const before = await everything();
    expect(detailNames(expectError(await call(hub, "POST", "/credentials", { type: "kubernetes", name: "icpt-static", kubeconfigFile: "/k" }), 409, "already_exists"))).toEqual(["icpt-static"]);
    expect(detailNames(expectError(await call(hub, "PUT", "/credentials", { type: "kubernetes", name: "icpt-static", kubeconfigFile: "/k" }), 400, "invalid_argument"))).toEqual(["icpt-static"]);
    for (const method of ["POST", "PUT"]) {
      const answer = await call(hub, method, "/credentials", { type: "kubernetes", name: "icpt-cd-only", kubeconfigFile: "/k" });
      expect(detailNames(expectError(answer, 409, "already_exists"))).toEqual(["icpt-cd-only"]);
    }
    expect(await everything()).toBe(before);
  });

  it("PUT on an account being deactivated → 400 failed_precondition naming it", async () => {
    await setStatus(db(), "icpt-put", "TO_DEACTIVATE");
    const answer = await call(hub, "PUT", "/credentials", { type: "kubernetes", name: "icpt-put", kubeconfigFile: "/k/x" });
    expect(detailNames(expectError(answer, 400, "failed_precondition"))).toEqual(["icpt-put"]);
    expect((await accountRow(db(), "icpt-put"))!.definition).toMatchObject({ kubeconfigFile: "/k" });
  });

  it("only POST and PUT are served on /credentials: the rest of Clouddriver's API stays Clouddriver's", async () => {
    const answer = await call(hub, "GET", "/credentials");
    expect(answer.status).toBe(405);
    expect(answer.headers.get("allow")).toBe("POST, PUT");
  });
});
