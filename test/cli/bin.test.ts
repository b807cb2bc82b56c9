import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import { connectTestAgent } from "../hub/support/test-agent.js";
import { POSTGRES_URL } from "../support/databases.js";
import { startHubCommand } from "../support/hub-command.js";

const root = join(fileURLToPath(import.meta.url), "../../..");
const schema = `t_bin_${randomBytes(4).toString("hex")}`;

describe("bin/agent-hub.js", () => {
  afterAll(async () => {
    const admin = postgres(POSTGRES_URL, { max: 1, onnotice: () => {} });
    await admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });

  it.each(["SIGTERM", "SIGINT"] as const)("runs the hub in its own process: %s to the bin ends the agent streams and exits 0", async (signal) => {
    const hub = await startHubCommand(process.execPath, [join(root, "bin/agent-hub.js"), "serve"], {
      cwd: root,
      env: { DATABASE_URL: POSTGRES_URL, AGENT_HUB_DATABASE_SCHEMA: schema, AGENT_HUB_HUB_ID: `bin-${signal}`, AGENT_HUB_GRPC_AGENT_PORT: "0" },
    });
    const agent = connectTestAgent({ target: `127.0.0.1:${hub.agentPort}`, agentId: `bin-agent-${signal}`, zoneId: "b" });
    try {
      await agent.waitFor("welcome", undefined, 15_000);
      // The bin's own pid received the signal: no child process stands between it and the hub.
      expect(await hub.signal(signal)).toBe(0);
      // The graceful path: the stream ended with UNAVAILABLE ("reconnect"), not cut off.
      expect(await agent.ended).toMatchObject({ code: 14, details: expect.stringMatching(/shutting down/) });
      expect(hub.logs.map((l) => l.msg)).toEqual(expect.arrayContaining(["signal received", "agent-hub shutting down"]));
      expect(hub.logs.find((l) => l.msg === "signal received")).toMatchObject({ signal });
    } finally {
      agent.close();
    }
  });
});
