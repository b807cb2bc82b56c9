// `?dryRun=true` on every mutating route (design section 16), on both databases: the dry call
// answers exactly what the real call then answers (status and body), writes no row and sends no
// agent a message. An independent grpc-js agent holds the accounts.
import { asc } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assignments } from "../../src/store/schema.js";
import { DATABASE_KINDS } from "../support/databases.js";
import { startTestHub, type TestHub } from "../support/hub.js";
import { connectTestAgent, type TestAgent } from "../hub/support/test-agent.js";
import { accountRows, clouddriverSnapshot, seedClouddriver } from "./support.js";
import { SECRET_KUBECONFIG, call, type Answer } from "../support/rest.js";
import { eventually } from "../support/eventually.js";

/** How long a dry call gets to (wrongly) reach the agent; a real call reaches it in milliseconds. */
const QUIET_MS = 300;

describe.each(DATABASE_KINDS)("dry run on %s", (kind) => {
  let hub: TestHub;
  let agent: TestAgent;
  const db = () => hub.app.database;
  /** Everything a mutating call could write. */
  const everything = async () =>
    JSON.stringify([await accountRows(db()), await db().db.select().from(assignments).orderBy(asc(assignments.accountName)), await clouddriverSnapshot(db())]);
  const status = async (name: string) => ((await call(hub, "GET", `/armory/accounts/${name}`)).json as { status: string }).status;
  const until = (name: string, want: string) => eventually(async () => expect(await status(name)).toBe(want));

  /**
   * Runs `method path` first with `?dryRun=true`, proving nothing was written or sent, then for
   * real; expects the same status and body from both, and returns the real answer.
   */
  async function sameAsReal(method: string, path: string, body: unknown): Promise<Answer> {
    const before = await everything();
    const sent = agent.received.length;
    const dry = await call(hub, method, `${path}?dryRun=true`, body);
    await new Promise((r) => setTimeout(r, QUIET_MS));
    expect(await everything(), `${method} ${path}?dryRun=true wrote something`).toBe(before);
    expect(agent.received.slice(sent), `${method} ${path}?dryRun=true reached the agent`).toEqual([]);
    const real = await call(hub, method, path, body);
    expect({ status: dry.status, body: dry.json }).toEqual({ status: real.status, body: real.json });
    return real;
  }

  beforeAll(async () => {
    hub = await startTestHub(kind, { "interceptor.enabled": true });
    agent = connectTestAgent({ target: hub.url.replace("http://", ""), agentId: "dry-agent", zoneId: "dz" });
    await agent.waitFor("welcome");
    await seedClouddriver(db(), "dry-cd", { kubeconfigFile: "/cd" });
    expect((await call(hub, "POST", "/armory/accounts/dynamic", [{ name: "dry-held", kubeconfigFile: "/k", zoneId: "dz" }])).status).toBe(202);
    expect((await call(hub, "PATCH", "/armory/accounts", [{ name: "dry-held", state: "ACTIVE" }])).status).toBe(202);
    await until("dry-held", "ACTIVE");
  });
  afterAll(async () => {
    agent.close();
    await hub.stop();
  });

  it("POST /armory/accounts/dynamic: 202, 409 with the taken names, 400 naming the field", async () => {
    expect((await sameAsReal("POST", "/armory/accounts/dynamic", { name: "dry-new", kubeconfigContents: SECRET_KUBECONFIG, zoneId: "dz" })).status).toBe(202);
    const conflict = await sameAsReal("POST", "/armory/accounts/dynamic", [{ name: "dry-new", kubeconfigFile: "/k" }, { name: "dry-other", kubeconfigFile: "/k" }]);
    expect(conflict).toMatchObject({ status: 409, json: ["dry-new"] });
    expect((await sameAsReal("POST", "/armory/accounts/dynamic", [{ name: "dry-bad" }])).status).toBe(400);
  });

  it("PATCH /armory/accounts and /armory/accounts/dynamic: 202 and 400; the real call then reaches the agent", async () => {
    expect((await sameAsReal("PATCH", "/armory/accounts", [{ name: "dry-new", state: "ACTIVE" }])).status).toBe(202);
    await agent.waitFor("add", (m) => m.assignments.some((a) => a.name === "dry-new"));
    await until("dry-new", "ACTIVE");
    expect((await sameAsReal("PATCH", "/armory/accounts/dynamic", [{ name: "dry-nobody", state: "ACTIVE" }])).status).toBe(400);
    expect((await sameAsReal("PATCH", "/armory/accounts/dynamic", [{ name: "dry-new", state: "INACTIVE" }])).status).toBe(202);
    await agent.waitFor("delete", (m) => m.names.includes("dry-new"));
    await until("dry-new", "INACTIVE");
  });

  it("PUT /armory/accounts/dynamic: 202 for a held account (pushed only by the real call), 409 for a Clouddriver name", async () => {
    expect((await sameAsReal("PUT", "/armory/accounts/dynamic", { name: "dry-held", kubeconfigFile: "/k2", zoneId: "dz" })).json).toEqual([]);
    await agent.waitFor("save", (m) => m.assignments.some((a) => a.name === "dry-held" && a.config.kubeconfigFile === "/k2"));
    expect(await sameAsReal("PUT", "/armory/accounts/dynamic", { name: "dry-cd", kubeconfigFile: "/k" })).toMatchObject({ status: 409, json: ["dry-cd"] });
  });

  it("POST /armory/accounts (migrate): 202, then 409; 400 for a name Clouddriver does not have", async () => {
    expect((await sameAsReal("POST", "/armory/accounts", [{ name: "dry-cd", zoneId: "dz" }])).status).toBe(202);
    expect(await sameAsReal("POST", "/armory/accounts", [{ name: "dry-cd" }])).toMatchObject({ status: 409, json: ["dry-cd"] });
    expect((await sameAsReal("POST", "/armory/accounts", [{ name: "dry-not-there" }])).status).toBe(400);
  });

  it("DELETE /armory/accounts: 400 for unknown names, 202 for a held account (the agent lets go only after the real call)", async () => {
    expect((await sameAsReal("DELETE", "/armory/accounts", ["dry-held", "dry-unknown"])).status).toBe(400);
    expect((await sameAsReal("DELETE", "/armory/accounts", ["dry-held"])).status).toBe(202);
    await agent.waitFor("delete", (m) => m.names.includes("dry-held"));
    await eventually(async () => expect((await call(hub, "GET", "/armory/accounts/dry-held")).status).toBe(404));
  });

  it("POST and PUT /credentials (interceptor): 200 with the redacted definition, 409 for a taken name", async () => {
    const definition = { type: "kubernetes", name: "dry-icpt", kubeconfigContents: SECRET_KUBECONFIG, zoneId: "dz" };
    expect(await sameAsReal("POST", "/credentials", definition)).toMatchObject({ status: 200, json: { kubeconfigContents: "<redacted>" } });
    await agent.waitFor("add", (m) => m.assignments.some((a) => a.name === "dry-icpt"));
    await until("dry-icpt", "ACTIVE");
    expect((await sameAsReal("POST", "/credentials", definition)).status).toBe(409);
    expect((await sameAsReal("PUT", "/credentials", { ...definition, kubeconfigContents: undefined, kubeconfigFile: "/i2" })).status).toBe(200);
    await agent.waitFor("save", (m) => m.assignments.some((a) => a.name === "dry-icpt" && a.config.kubeconfigFile === "/i2"));
  });

  it("dryRun must be true or false", async () => {
    const answer = await call(hub, "DELETE", "/armory/accounts?dryRun=yes", ["dry-cd"]);
    expect(answer.status).toBe(400);
    expect(answer.text).toContain("dryRun");
  });
});
