import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createClouddriverAccounts } from "../../src/store/clouddriver-accounts.js";
import { openDatabase } from "../../src/store/database.js";

const root = join(import.meta.dirname, "..", "..");

function cli(args: string[], dataDir: string) {
  return spawnSync(process.execPath, ["--import", "tsx", join(root, "src/cli/main.ts"), ...args], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: "", AGENT_HUB_DATA_DIR: dataDir },
    encoding: "utf8",
  });
}

describe("agent-hub seed-clouddriver (the README's try-out command)", () => {
  it("puts an account into Clouddriver's table of the embedded database", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "agent-hub-seed-"));
    const run = cli(["seed-clouddriver", "--name", "legacy-prod", "--body", '{"kubeconfigFile": "/kube/legacy-prod"}'], dataDir);
    expect(run.stderr).not.toMatch(/agent-hub:/);
    expect(run.status).toBe(0);
    const database = await openDatabase({ dataDir });
    try {
      const row = await createClouddriverAccounts(database.db, "").findByName("legacy-prod");
      expect(row).toMatchObject({ name: "legacy-prod", type: "kubernetes", body: { name: "legacy-prod", kubeconfigFile: "/kube/legacy-prod" } });
    } finally {
      await database.close();
    }
  });

  it("refuses a missing name and a body that is not a JSON object, naming the option (exit 2: usage)", () => {
    const dataDir = mkdtempSync(join(tmpdir(), "agent-hub-seed-"));
    const noName = cli(["seed-clouddriver"], dataDir);
    expect(noName.status).toBe(2);
    expect(noName.stderr).toContain("--name");
    const badBody = cli(["seed-clouddriver", "--name", "x", "--body", "[1]"], dataDir);
    expect(badBody.status).toBe(2);
    expect(badBody.stderr).toContain("--body");
  });
});
