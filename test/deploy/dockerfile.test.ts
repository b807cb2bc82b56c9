import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import { POSTGRES_URL } from "../support/databases.js";
import { startHubCommand } from "../support/hub-command.js";
import { runDockerfile } from "./dockerfile-steps.js";

const root = join(fileURLToPath(import.meta.url), "../../..");

/**
 * No Docker engine here: the Dockerfile's own instructions are run in a temporary directory
 * (dockerfile-steps.ts), and the runtime stage's CMD is started as the container would start it.
 */
describe("Dockerfile", () => {
  const workspace = mkdtempSync(join(tmpdir(), "agent-hub-docker-"));
  const schema = `t_docker_${randomBytes(4).toString("hex")}`;
  afterAll(async () => {
    rmSync(workspace, { recursive: true, force: true });
    const admin = postgres(POSTGRES_URL, { max: 1, onnotice: () => {} });
    await admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });

  it("builds compiled JS in one stage, runs it from a runtime stage without devDependencies, non-root, healthy", { timeout: 300_000 }, async () => {
    // npm ci from this machine's cache, as a registry mirror would serve it.
    const stages = runDockerfile(join(root, "Dockerfile"), root, workspace, { npm_config_prefer_offline: "true" });
    expect(stages.map((s) => s.name)).toEqual(["build", "1"]);
    const runtime = stages[1]!;

    expect(runtime.cmd).toEqual(["node", "dist/cli/main.js", "serve"]);
    expect(runtime.user).toBeDefined();
    expect(["root", "0"]).not.toContain(runtime.user);
    expect(runtime.exposed).toEqual([7002, 9091]);
    expect(runtime.healthcheck?.cmd.join(" ")).toContain("/healthz");
    // Compiled JS and production dependencies only: no TypeScript sources, no compiler, no test runner.
    expect(existsSync(runtime.path("dist/cli/main.js"))).toBe(true);
    expect(existsSync(runtime.path("dist/src/store/migrations/meta/_journal.json"))).toBe(true);
    expect(existsSync(runtime.path("src"))).toBe(false);
    expect(existsSync(runtime.path("node_modules/prom-client"))).toBe(true);
    // npm ci applied patches/ in the runtime stage too.
    expect(readFileSync(runtime.path("node_modules/postgres/src/connection.js"), "utf8")).toContain("agent-hub patch");
    for (const dev of ["typescript", "vitest", "@bufbuild/buf", "drizzle-kit"]) expect(existsSync(runtime.path(`node_modules/${dev}`)), dev).toBe(false);

    // The bin of the image runs the compiled CLI (there are no sources to run through tsx).
    expect(execFileSync(process.execPath, ["bin/agent-hub.js", "--help"], { cwd: runtime.path("."), encoding: "utf8" })).toContain("Usage: agent-hub");

    // The container's start: the runtime stage's ENV and CMD in its WORKDIR, on PostgreSQL as in
    // deploy/kubernetes (opening the embedded database would add ten seconds to this test).
    const [cmd, ...args] = runtime.cmd!;
    const hub = await startHubCommand(cmd === "node" ? process.execPath : cmd!, args, {
      cwd: runtime.path("."),
      env: { ...runtime.env, AGENT_HUB_DATA_DIR: join(workspace, "data"), DATABASE_URL: POSTGRES_URL, AGENT_HUB_DATABASE_SCHEMA: schema },
      timeoutMs: 90_000,
    });
    try {
      expect((await fetch(`http://127.0.0.1:${hub.port}/healthz`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${hub.port}/readyz`)).status).toBe(200);
      const [hc, ...hcArgs] = runtime.healthcheck!.cmd;
      // The HEALTHCHECK as Docker would run it inside the container (exit 0 = healthy).
      execFileSync(hc === "node" ? process.execPath : hc!, hcArgs, { env: { PATH: process.env.PATH ?? "", ...runtime.env, PORT: String(hub.port) } });
    } finally {
      expect(await hub.signal("SIGTERM")).toBe(0);
    }
  });
});
