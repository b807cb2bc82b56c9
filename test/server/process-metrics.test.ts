import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import { POSTGRES_URL } from "../support/databases.js";
import { startHubCommand } from "../support/hub-command.js";
import { scrape, valueOf } from "../support/prometheus.js";
import { definition } from "../hub/support/hub-scenario.js";

const root = join(fileURLToPath(import.meta.url), "../../..");
const schema = `t_procmetrics_${randomBytes(4).toString("hex")}`;

// A hub process of its own: in this suite's workers modules outlive a file (isolate: false), so
// an earlier file's hub may have created the process-wide registry already.
describe("process metrics", () => {
  afterAll(async () => {
    const admin = postgres(POSTGRES_URL, { max: 1, onnotice: () => {} });
    await admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });

  it("count the hub's CPU from its start, not from the first scrape", async () => {
    const hub = await startHubCommand(process.execPath, [join(root, "bin/agent-hub.js"), "serve"], {
      cwd: root,
      env: { DATABASE_URL: POSTGRES_URL, AGENT_HUB_DATABASE_SCHEMA: schema, AGENT_HUB_HUB_ID: "procmetrics" },
    });
    try {
      // Work for the hub before anybody scrapes: validating and storing 3,000 accounts.
      for (let batch = 0; batch < 3; batch++) {
        const definitions = Array.from({ length: 1_000 }, (_, i) => definition(`cpu-${batch}-${i}`, "z"));
        const res = await fetch(`http://127.0.0.1:${hub.port}/armory/accounts/dynamic`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(definitions) });
        expect(res.status).toBe(202);
      }
      const first = await scrape(`http://127.0.0.1:${hub.port}/metrics`);
      // Counted from the first scrape, this was a few milliseconds.
      expect(valueOf(first.samples, "process_cpu_user_seconds_total")).toBeGreaterThanOrEqual(0.2);
    } finally {
      expect(await hub.signal("SIGTERM")).toBe(0);
    }
  });
});
