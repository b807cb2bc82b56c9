// The account states of design section 4 end to end: the API writes the transient state, the hub
// takes the account on to its final state. Waits (polls) for the hub, with a fake agent where an
// agent must answer.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASE_KINDS } from "../support/databases.js";
import { startTestHub, type TestHub } from "../support/hub.js";
import { connectFakeAgent, type FakeAgent } from "./fake-agent.js";
import { accountRow, clouddriverSnapshot, insertAccount, seedClouddriver, setStatus } from "./support.js";
import { SECRET_KUBECONFIG, call } from "../support/rest.js";
import { eventually } from "../support/eventually.js";

interface Shown {
  name: string;
  status: string;
  agents: { agentId: string; caching: boolean }[];
  lastAssignmentMsg: string;
  source: string;
}

describe.each(DATABASE_KINDS)("account lifecycle on %s", (kind) => {
  let hub: TestHub;
  const agents: FakeAgent[] = [];

  beforeAll(async () => {
    hub = await startTestHub(kind);
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.close()));
    await hub.stop();
  });

  const show = async (name: string) => (await call(hub, "GET", `/armory/accounts/${encodeURIComponent(name)}`)).json as Shown;
  const until = (name: string, ok: (a: Shown) => boolean) =>
    eventually(async () => {
      const shown = await show(name);
      expect(ok(shown), `${name}: ${JSON.stringify(shown)}`).toBe(true);
      return shown;
    });
  const gone = (name: string) =>
    eventually(async () => {
      const answer = await call(hub, "GET", `/armory/accounts/${name}`);
      expect(answer.status).toBe(404);
      return answer;
    });

  it("activate with no agent of its zone connected → ORPHANED, with a message naming the zone", async () => {
    expect((await call(hub, "POST", "/armory/accounts/dynamic", { name: "lone", kubeconfigFile: "/k", zoneId: "zone-nobody" })).status).toBe(202);
    expect((await call(hub, "PATCH", "/armory/accounts", [{ name: "lone", state: "ACTIVE" }])).status).toBe(202);
    const account = await until("lone", (a) => a.status === "ORPHANED");
    expect(account.status).toBe("ORPHANED");
    expect(account.lastAssignmentMsg).toContain("zone-nobody");
  });

  it("deactivate with no holders → INACTIVE at once", async () => {
    expect((await call(hub, "PATCH", "/armory/accounts/dynamic", [{ name: "lone", state: "INACTIVE" }])).status).toBe(202);
    expect((await until("lone", (a) => a.status === "INACTIVE")).status).toBe("INACTIVE");
  });

  it("activate from FAILED resets failed_count", async () => {
    await insertAccount(db(), { name: "was-failed", status: "FAILED", failedCount: 4, zoneId: "zone-nobody", definition: { name: "was-failed", kubeconfigFile: "/k", zoneId: "zone-nobody" } });
    expect((await call(hub, "PATCH", "/armory/accounts", [{ name: "was-failed", state: "ACTIVE" }])).status).toBe(202);
    await until("was-failed", (a) => a.status === "ORPHANED");
    expect((await accountRow(db(), "was-failed"))!.failedCount).toBe(0);
  });

  it("delete with no holders removes the row; a created account then answers 404", async () => {
    expect((await call(hub, "DELETE", "/armory/accounts", ["lone"])).status).toBe(202);
    expect((await gone("lone")).status).toBe(404);
    expect(await accountRow(db(), "lone")).toBeUndefined();
  });

  it("create → activate → ACTIVE on an agent → PUT pushes the new definition → deactivate → delete", async () => {
    const agent = connectFakeAgent(hub.url, "agent-w-1", "zone-w");
    agents.push(agent);
    await eventually(async () => {
      const list = (await call(hub, "GET", "/armory/agents")).json as { agentId: string }[];
      expect(list.some((a) => a.agentId === "agent-w-1")).toBe(true);
      return list;
    });
    await call(hub, "POST", "/armory/accounts/dynamic", { name: "walk", kubeconfigContents: SECRET_KUBECONFIG, zoneId: "zone-w" });
    expect((await call(hub, "PATCH", "/armory/accounts", [{ name: "walk", state: "ACTIVE" }])).status).toBe(202);
    const active = await until("walk", (a) => a.status === "ACTIVE");
    expect(active).toMatchObject({ status: "ACTIVE", agents: [{ agentId: "agent-w-1", caching: true }] });
    const listed = ((await call(hub, "GET", "/armory/agents")).json as Record<string, unknown>[]).find((a) => a.agentId === "agent-w-1");
    expect(listed).toMatchObject({ zoneId: "zone-w", accounts: 1, caching: 1 });
    // Agents get the definition with its inline contents: they need them.
    const added = agent.received.find((m) => m.msg.case === "addAccounts");
    expect(added?.msg.case === "addAccounts" && added.msg.value.assignments[0]?.account?.config).toMatchObject({ kubeconfigContents: SECRET_KUBECONFIG });

    // kubeconfigAgent: agents read the kubeconfig from that file and get no contents.
    const put = await call(hub, "PUT", "/armory/accounts/dynamic", { name: "walk", kubeconfigContents: SECRET_KUBECONFIG, kubeconfigAgent: "/agent/kube", zoneId: "zone-w" });
    expect(put.status).toBe(202);
    const saved = await eventually(async () => {
      const list = agent.received.filter((m) => m.msg.case === "saveAccounts");
      expect(list.some((m) => m.msg.case === "saveAccounts" && m.msg.value.assignments.some((a) => a.account?.config?.kubeconfigFile === "/agent/kube"))).toBe(true);
      return list;
    });
    const pushed = saved.flatMap((m) => (m.msg.case === "saveAccounts" ? m.msg.value.assignments : [])).find((a) => a.account?.config?.kubeconfigFile === "/agent/kube");
    expect(pushed?.account?.config).toBeDefined();
    expect(pushed?.account?.config).not.toHaveProperty("kubeconfigContents");
    expect((await show("walk")).status).toBe("ACTIVE");

    expect((await call(hub, "PATCH", "/armory/accounts", [{ name: "walk", state: "INACTIVE" }])).status).toBe(202);
    const inactive = await until("walk", (a) => a.status === "INACTIVE");
    expect(inactive).toMatchObject({ status: "INACTIVE", agents: [] });
    expect(agent.received.some((m) => m.msg.case === "deleteAccounts" && m.msg.value.accountNames.includes("walk"))).toBe(true);

    expect((await call(hub, "PATCH", "/armory/accounts", [{ name: "walk", state: "ACTIVE" }])).status).toBe(202);
    await until("walk", (a) => a.status === "ACTIVE");
    expect((await call(hub, "DELETE", "/armory/accounts", ["walk"])).status).toBe(202);
    expect((await gone("walk")).status).toBe(404);
  });

  it("a deleted migrated account is Clouddriver's again: TO_MIGRATE, its Clouddriver row untouched", async () => {
    await seedClouddriver(db(), "round-trip", { kubeconfigFile: "/cd/rt", zoneId: "zone-nobody" });
    const before = await clouddriverSnapshot(db());
    expect((await call(hub, "POST", "/armory/accounts", [{ name: "round-trip" }])).status).toBe(202);
    expect((await show("round-trip")).status).toBe("INACTIVE");
    expect((await call(hub, "PATCH", "/armory/accounts", [{ name: "round-trip", state: "ACTIVE" }])).status).toBe(202);
    await until("round-trip", (a) => a.status === "ORPHANED");
    expect((await call(hub, "DELETE", "/armory/accounts", ["round-trip"])).status).toBe(202);
    const back = await until("round-trip", (a) => a.status === "TO_MIGRATE");
    expect(back).toMatchObject({ status: "TO_MIGRATE", source: "clouddriver", agents: [] });
    expect(await clouddriverSnapshot(db())).toEqual(before);
    // And it can be migrated again.
    expect((await call(hub, "POST", "/armory/accounts", [{ name: "round-trip" }])).status).toBe(202);
  });

  it("deactivate of an ORPHANED account set by the hub → INACTIVE", async () => {
    await insertAccount(db(), { name: "orphan", status: "ACTIVE" });
    await setStatus(db(), "orphan", "ORPHANED");
    expect((await call(hub, "PATCH", "/armory/accounts", [{ name: "orphan", state: "INACTIVE" }])).status).toBe(202);
    expect((await until("orphan", (a) => a.status === "INACTIVE")).status).toBe("INACTIVE");
  });

  function db() {
    return hub.app.database;
  }
});
