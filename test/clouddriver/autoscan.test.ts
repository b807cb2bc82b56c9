// Autoscan against a real hub (autoscan on, a one-hour timer so that only scanOnce scans), with
// Clouddriver's table in a schema of its own and a fake agent that answers OK, so that accounts
// really go ACTIVE and the agent sees what the hub sends.
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConnectResponse } from "../../gen/agenthub/v1/agent_pb.js";
import { createAutoscan } from "../../src/clouddriver/autoscan.js";
import type { AccountChange } from "../../src/hub/reconciler.js";
import { createLogger } from "../../src/log/logger.js";
import { connectFakeAgent, type FakeAgent } from "../accounts/fake-agent.js";
import { accountRow } from "../accounts/support.js";
import { call } from "../support/rest.js";
import { eventually } from "../support/eventually.js";
import { DATABASE_KINDS, POSTGRES_URL, type DatabaseKind } from "../support/databases.js";
import { startTestHub, type TestHub } from "../support/hub.js";
import { createClouddriverTable, uniqueSchema, type ClouddriverTable } from "./support.js";

interface Shown {
  name: string;
  type: string;
  source: string;
  status: string;
  zoneId: string;
  config: Record<string, unknown>;
  agents: { agentId: string; caching: boolean }[];
  lastAssignmentMsg: string;
}

/** The config of the last AddAccounts/SaveAccounts that carried `name`, and which kind it was. */
function lastSent(received: readonly ConnectResponse[], name: string): { kind: string; config: unknown } | undefined {
  let found: { kind: string; config: unknown } | undefined;
  for (const { msg } of received) {
    if (msg.case !== "addAccounts" && msg.case !== "saveAccounts") continue;
    const assignment = msg.value.assignments.find((a) => a.account?.name === name);
    if (assignment !== undefined) found = { kind: msg.case, config: assignment.account?.config };
  }
  return found;
}

function deleteSent(received: readonly ConnectResponse[], name: string): boolean {
  return received.some(({ msg }) => msg.case === "deleteAccounts" && msg.value.accountNames.includes(name));
}

/** Starts a hub with autoscan on, Clouddriver's table in its own schema, and one agent. */
function autoscanSuite(kind: DatabaseKind) {
  const state = {} as { hub: TestHub; cd: ClouddriverTable; agent: FakeAgent };
  const cdSchema = uniqueSchema("cd");
  beforeAll(async () => {
    state.hub = await startTestHub(kind, {
      "autoscan.enabled": true,
      "autoscan.frequency": "1h",
      "autoscan.batchSize": 2,
      "autoscan.namePatterns": ["team-", "prod-*-east", "qa-?"],
      "clouddriver.schema": cdSchema,
    });
    state.cd = await createClouddriverTable(state.hub.app.database, cdSchema);
    state.agent = connectFakeAgent(state.hub.url, "agent-1", "zone-a");
    await eventually(async () => {
      const agents = (await call(state.hub, "GET", "/armory/agents")).json as unknown[];
      expect(agents).toHaveLength(1);
      return agents;
    });
  });
  afterAll(async () => {
    await state.agent.close();
    await state.hub.stop();
    await state.cd.drop();
  });
  return state;
}

describe.each(DATABASE_KINDS)("autoscan on %s", (kind) => {
  const s = autoscanSuite(kind);
  const scan = () => s.hub.app.autoscan!.scanOnce();
  const show = async (name: string) => (await call(s.hub, "GET", `/armory/accounts/${name}`)).json as Shown;
  const until = (name: string, ok: (a: Shown) => boolean) =>
    eventually(async () => {
      const shown = await show(name);
      expect(ok(shown), `${name}: ${JSON.stringify(shown)}`).toBe(true);
      return shown;
    });

  it("migrates and activates the rows handed to agents, at most batchSize per scan, in name order", async () => {
    const lastModified = await s.cd.put("agent-managed", { kubeconfigFile: "/k/agent" }, "kubernetes:agent");
    await s.cd.put("team-alpha", { kubeconfigFile: "/k/team" });
    await s.cd.put("prod-1-east", { kubeconfigFile: "/k/prod" });
    await s.cd.put("qa-1", { kubeconfigFile: "/k/qa" });
    // Not handed to agents: no pattern matches, or not a Kubernetes account at all.
    await s.cd.put("qa-12", { kubeconfigFile: "/k" });
    await s.cd.put("prod-1-west", { kubeconfigFile: "/k" });
    await s.cd.put("other", { kubeconfigFile: "/k" });
    await s.cd.put("team-aws", { accountId: "1" }, "aws");

    // Before a scan the row is only Clouddriver's: shown TO_MIGRATE, type kubernetes.
    expect(await show("agent-managed")).toMatchObject({ status: "TO_MIGRATE", type: "kubernetes", source: "clouddriver" });

    const first = await scan();
    expect(first).toMatchObject({ outcome: "scanned", activated: ["agent-managed", "prod-1-east"], waiting: 2 });
    const second = await scan();
    expect(second).toMatchObject({ outcome: "scanned", activated: ["qa-1", "team-alpha"], waiting: 0 });
    expect((await scan()).activated).toEqual([]);

    for (const name of ["agent-managed", "prod-1-east", "qa-1", "team-alpha"]) {
      const account = await until(name, (a) => a.status === "ACTIVE");
      expect(account).toMatchObject({ status: "ACTIVE", type: "kubernetes", source: "clouddriver", agents: [{ agentId: "agent-1", caching: true }] });
      expect(lastSent(s.agent.received, name)?.kind).toBe("addAccounts");
    }
    const row = await accountRow(s.hub.app.database, "agent-managed");
    expect(row).toMatchObject({ origin: "autoscan", type: "kubernetes", clouddriverLastModified: lastModified });
    expect(row!.definition).toMatchObject({ name: "agent-managed", kubeconfigFile: "/k/agent" });
    // The audit history names autoscan as the one that created it; the hub's own steps follow.
    const history = (await call(s.hub, "GET", "/armory/accounts/agent-managed/history")).json as { items: { actor: string; action: string }[] };
    expect(history.items.at(-1)).toMatchObject({ actor: "autoscan", action: "create" });

    for (const name of ["qa-12", "prod-1-west", "other", "team-aws"]) {
      expect(await accountRow(s.hub.app.database, name), name).toBeUndefined();
    }
    const listed = ((await call(s.hub, "GET", "/armory/accounts")).json as { items: { name: string }[] }).items.map((i) => i.name);
    expect(listed).toEqual(["agent-managed", "prod-1-east", "qa-1", "team-alpha"]);
  });

  it("a changed row (newer last_modified_at) is stored and pushed to the holders; a hub-side zoneId stays", async () => {
    expect((await call(s.hub, "PATCH", "/armory/accounts", [{ name: "team-alpha", state: "ACTIVE", zoneId: "zone-a" }])).status).toBe(202);
    await until("team-alpha", (a) => a.status === "ACTIVE" && a.zoneId === "zone-a");

    const lastModified = await s.cd.put("team-alpha", { kubeconfigFile: "/k/team-2", namespaces: ["ns-1"] });
    expect((await scan()).updated).toEqual(["team-alpha"]);
    const pushed = await eventually(async () => {
      const sent = lastSent(s.agent.received, "team-alpha");
      expect((sent?.config as Record<string, unknown> | undefined)?.kubeconfigFile).toBe("/k/team-2");
      return sent;
    });
    expect(pushed).toMatchObject({ kind: "saveAccounts", config: { kubeconfigFile: "/k/team-2", namespaces: ["ns-1"], zoneId: "zone-a" } });
    expect(await show("team-alpha")).toMatchObject({ status: "ACTIVE", zoneId: "zone-a", config: { kubeconfigFile: "/k/team-2", zoneId: "zone-a" } });
    expect((await accountRow(s.hub.app.database, "team-alpha"))!.clouddriverLastModified).toBe(lastModified);

    // Nothing newer: nothing stored, nothing pushed.
    const sentBefore = s.agent.received.length;
    expect((await scan()).updated).toEqual([]);
    expect(s.agent.received.length).toBe(sentBefore);
  });

  it("a migrated account follows its changed row too; a created one with the same name as a handed row is left alone", async () => {
    await s.cd.put("team-migrated", { kubeconfigFile: "/k/m" });
    expect((await call(s.hub, "POST", "/armory/accounts", [{ name: "team-migrated" }])).status).toBe(202);
    expect((await call(s.hub, "POST", "/armory/accounts/dynamic", { name: "team-created", kubeconfigFile: "/k/c" })).status).toBe(202);
    await s.cd.put("team-created", { kubeconfigFile: "/k/from-clouddriver" });
    expect(await scan()).toMatchObject({ activated: [], updated: [] });

    await s.cd.put("team-migrated", { kubeconfigFile: "/k/m-2" });
    await s.cd.put("team-created", { kubeconfigFile: "/k/from-clouddriver-2" });
    expect(await scan()).toMatchObject({ activated: [], updated: ["team-migrated"] });
    expect((await accountRow(s.hub.app.database, "team-migrated"))).toMatchObject({ origin: "migrated", status: "INACTIVE", definition: { kubeconfigFile: "/k/m-2" } });
    expect((await accountRow(s.hub.app.database, "team-created"))).toMatchObject({ origin: "created", definition: { kubeconfigFile: "/k/c" } });
  });

  it("a gone row deactivates its account (not deleted) with a message; activating it again is not overruled", async () => {
    await s.cd.remove("prod-1-east");
    expect((await scan()).deactivated).toEqual(["prod-1-east"]);
    // While the holder is told to stop, and once it answered, the message says why (no scan in between).
    expect((await show("prod-1-east")).lastAssignmentMsg).toContain("removed from Clouddriver's accounts table");
    const account = await until("prod-1-east", (a) => a.status === "INACTIVE");
    expect(account.lastAssignmentMsg).toMatch(/^deactivated by autoscan: its row was removed from Clouddriver's accounts table .*: agent .* stopped serving it$/);
    // The next scan notes the removal as dealt with, still saying why.
    await scan();
    expect((await show("prod-1-east")).lastAssignmentMsg).toContain("removed from Clouddriver's accounts table");
    expect(account).toMatchObject({ status: "INACTIVE", agents: [], source: "clouddriver" });
    expect(account.lastAssignmentMsg).toContain(`"${s.cd.schema}.accounts"`);
    expect(deleteSent(s.agent.received, "prod-1-east")).toBe(true);

    expect((await call(s.hub, "PATCH", "/armory/accounts", [{ name: "prod-1-east", state: "ACTIVE" }])).status).toBe(202);
    await until("prod-1-east", (a) => a.status === "ACTIVE");
    expect((await scan()).deactivated).toEqual([]);
    expect((await show("prod-1-east")).status).toBe("ACTIVE");
  });

  it("a migrated account whose row is gone is not deactivated: only autoscan's own accounts are", async () => {
    expect((await call(s.hub, "PATCH", "/armory/accounts", [{ name: "team-migrated", state: "ACTIVE" }])).status).toBe(202);
    await until("team-migrated", (a) => a.status === "ACTIVE");
    await s.cd.remove("team-migrated");
    expect((await scan()).deactivated).toEqual([]);
    expect((await show("team-migrated")).status).toBe("ACTIVE");
  });

  it("a row that comes back activates its account again", async () => {
    await s.cd.remove("qa-1");
    expect((await scan()).deactivated).toEqual(["qa-1"]);
    // Scanned after the account was seen INACTIVE: that scan notes it gone (what lets it come back).
    await eventually(async () => {
      const seen = await show("qa-1");
      await scan();
      expect(seen.status).toBe("INACTIVE");
      expect(seen.lastAssignmentMsg).toContain("removed from Clouddriver's accounts table");
    });
    await s.cd.put("qa-1", { kubeconfigFile: "/k/qa-back" });
    expect((await scan()).activated).toEqual(["qa-1"]);
    expect(await until("qa-1", (a) => a.status === "ACTIVE")).toMatchObject({ status: "ACTIVE", config: { kubeconfigFile: "/k/qa-back" } });
  });

  it("with Clouddriver's table missing a scan does nothing, rather than take every account for gone", async () => {
    const changes: AccountChange[] = [];
    const elsewhere = createAutoscan({
      database: s.hub.app.database,
      clouddriverSchema: "no_clouddriver_here",
      settings: { frequencyMs: 3_600_000, namePatterns: ["team-"], batchSize: 10 },
      reconciler: { accountsChanged: async (c) => void changes.push(...c) },
      logger: createLogger("silent"),
    });
    expect(await elsewhere.scanOnce()).toEqual({ outcome: "no-table", activated: [], updated: [], deactivated: [], noted: [], waiting: 0 });
    expect(changes).toEqual([]);
    expect((await show("agent-managed")).status).toBe("ACTIVE");
  });
});

describe("autoscan's lock on postgres", () => {
  const s = autoscanSuite("postgres");

  it("skips the tick while another session holds the scan lock, and scans once it is released", async () => {
    await s.cd.put("team-locked", { kubeconfigFile: "/k" });
    const other = postgres(POSTGRES_URL, { max: 1, onnotice: () => {} });
    try {
      const session = await other.reserve();
      await session`BEGIN`;
      await session`SELECT pg_advisory_xact_lock(7002, hashtext(${s.hub.app.database.schema}))`;
      expect(await s.hub.app.autoscan!.scanOnce()).toMatchObject({ outcome: "locked", activated: [] });
      expect(await accountRow(s.hub.app.database, "team-locked")).toBeUndefined();
      await session`COMMIT`;
      session.release();
    } finally {
      await other.end();
    }
    expect(await s.hub.app.autoscan!.scanOnce()).toMatchObject({ outcome: "scanned", activated: ["team-locked"] });
  });
});
