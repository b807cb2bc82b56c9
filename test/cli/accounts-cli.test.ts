// `agent-hub accounts …` and `agent-hub agents` against a real hub on port 0, on both databases,
// spawned as a user runs them. Each command is checked against what the REST API then shows.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accountRow, insertAccount, seedClouddriver } from "../accounts/support.js";
import { call } from "../support/rest.js";
import { eventually } from "../support/eventually.js";
import { connectTestAgent, type TestAgent } from "../hub/support/test-agent.js";
import { DATABASE_KINDS } from "../support/databases.js";
import { startTestHub, type TestHub } from "../support/hub.js";
import { rows, runCli } from "./support.js";

describe.each(DATABASE_KINDS)("agent-hub accounts/agents on %s", (kind) => {
  let hub: TestHub;
  let agent: TestAgent | undefined;
  const cli = (...args: string[]) => runCli([...args, "--hub", hub.url]);
  const status = async (name: string) => ((await call(hub, "GET", `/armory/accounts/${name}`)).json as { status: string }).status;

  beforeAll(async () => {
    hub = await startTestHub(kind);
    await insertAccount(hub.app.database, { name: "cli-failed", status: "FAILED", zoneId: "z9" });
    await seedClouddriver(hub.app.database, "cli-legacy", { kubeconfigFile: "/legacy" });
  });
  afterAll(async () => {
    agent?.close();
    await hub.stop();
  });

  it("create from flags and from a YAML file; a name taken → exit 1 naming it, the rest created", async () => {
    const one = await cli("accounts", "create", "--name", "cli-a", "--kubeconfig-file", "/k/a", "--zone", "z1");
    expect(one, one.stderr).toMatchObject({ code: 0 });
    const file = join(mkdtempSync(join(tmpdir(), "agent-hub-cli-")), "accounts.yaml");
    writeFileSync(file, "- name: cli-b\n  kubeconfigFile: /k/b\n  namespaces: [default]\n- name: cli-a\n  kubeconfigFile: /k/a\n");
    const two = await cli("accounts", "create", "-f", file);
    expect(two.code).toBe(1);
    expect(two.stderr).toContain("already exist: cli-a");
    expect(await accountRow(hub.app.database, "cli-b")).toMatchObject({ status: "INACTIVE", definition: { namespaces: ["default"] } });
    expect((await accountRow(hub.app.database, "cli-a"))?.zoneId).toBe("z1");
  });

  it("list prints one row per account, filters by status (repeatable, comma-separated), zone and prefix; --json is the API's page", async () => {
    const all = await cli("accounts", "list");
    expect(all.code, all.stderr).toBe(0);
    expect(rows(all.stdout).map((r) => r[0])).toEqual(["cli-a", "cli-b", "cli-failed"]);
    expect(rows(all.stdout)[2]!.slice(0, 3)).toEqual(["cli-failed", "FAILED", "z9"]);
    const failed = await cli("accounts", "list", "--status", "FAILED");
    expect(rows(failed.stdout).map((r) => r[0])).toEqual(["cli-failed"]);
    const either = await cli("accounts", "list", "--status", "ORPHANED,FAILED", "--status", "INACTIVE", "--zone", "z1", "--name-prefix", "cli-", "--json");
    expect(JSON.parse(either.stdout)).toMatchObject({ items: [{ name: "cli-a", zoneId: "z1" }], page: 1, limit: 100, total: 1 });
    const paged = JSON.parse((await cli("accounts", "list", "--page", "2", "--limit", "2", "--json")).stdout) as { items: { name: string }[]; total: number };
    expect(paged.items.map((i) => i.name)).toEqual(["cli-failed"]);
    expect(paged.total).toBe(3);
  });

  it("the API's error message reaches the user with exit 1; a bad command line exits 2; no hub exits 1", async () => {
    const bad = await cli("accounts", "list", "--status", "BROKEN");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/agent-hub: status: not a state: "BROKEN".*\(HTTP 400 invalid_argument\)/);
    const usage = await cli("accounts", "list", "--limit", "ten");
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("--limit");
    const gone = await runCli(["accounts", "list", "--hub", "http://127.0.0.1:9"]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("cannot reach the hub at http://127.0.0.1:9");
  });

  it("activate with no agent → ORPHANED; get shows it; --dry-run changes nothing; deactivate, migrate, delete", async () => {
    expect((await cli("accounts", "activate", "cli-a", "cli-b")).code).toBe(0);
    await eventually(async () => expect(await status("cli-a")).toBe("ORPHANED"));
    const got = await cli("accounts", "get", "cli-a", "--json");
    expect(JSON.parse(got.stdout)).toMatchObject({ name: "cli-a", status: "ORPHANED", zoneId: "z1" });
    expect(JSON.parse(got.stdout).lastAssignmentMsg).toContain("z1");

    const dry = await cli("accounts", "delete", "cli-b", "--dry-run");
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain("dry run");
    expect(await accountRow(hub.app.database, "cli-b")).toBeDefined();

    expect((await cli("accounts", "deactivate", "cli-a")).code).toBe(0);
    await eventually(async () => expect(await status("cli-a")).toBe("INACTIVE"));
    const migrated = await cli("accounts", "migrate", "cli-legacy", "--zone", "z1");
    expect(migrated.code, migrated.stderr).toBe(0);
    expect(await accountRow(hub.app.database, "cli-legacy")).toMatchObject({ origin: "migrated", zoneId: "z1" });
    expect((await cli("accounts", "delete", "cli-b")).code).toBe(0);
    await eventually(async () => expect((await call(hub, "GET", "/armory/accounts/cli-b")).status).toBe(404));
    const unknown = await cli("accounts", "delete", "cli-nobody");
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("cli-nobody");
  });

  it("update replaces one definition from stdin; agents lists connected agents of a zone", async () => {
    const put = await runCli(["accounts", "update", "-f", "-", "--hub", hub.url], {}, JSON.stringify({ name: "cli-a", kubeconfigFile: "/k/a2", zoneId: "z1" }));
    expect(put.code, put.stderr).toBe(0);
    expect((await accountRow(hub.app.database, "cli-a"))?.definition).toMatchObject({ kubeconfigFile: "/k/a2" });

    agent = connectTestAgent({ target: hub.url.replace("http://", ""), agentId: "cli-agent", zoneId: "z1", version: "2.0.1", labels: { team: "t" } });
    await agent.waitFor("welcome");
    const listed = await eventually(async () => {
      const r = await cli("agents", "--zone", "z1");
      expect(r.stdout).toContain("cli-agent");
      return r;
    });
    const [row] = rows(listed.stdout);
    expect(row!.slice(0, 2)).toEqual(["cli-agent", "z1"]);
    expect(row).toContain("2.0.1");
    expect(row).toContain("team=t");
    expect(JSON.parse((await cli("agents", "--zone", "other", "--json")).stdout)).toEqual([]);
  });
});
