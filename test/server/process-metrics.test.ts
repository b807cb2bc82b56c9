import { describe, expect, it } from "vitest";
import { useScenario } from "../hub/support/hub-scenario.js";
import { scrape, valueOf } from "../support/prometheus.js";

// Its own file: vitest gives each file fresh modules, so the process-wide registry is created
// by this file's hub, not by an earlier test's scrape.
describe("process metrics", () => {
  const scenario = useScenario("pglite");

  it("count the hub's CPU from its start, not from the first scrape", async () => {
    const s = scenario();
    const start = performance.now();
    // Synchronous work before anybody scrapes: it must show in the first scrape.
    while (performance.now() - start < 400) Math.sqrt(Math.random());
    const first = await scrape(`${s.hub.url}/metrics`);
    expect(valueOf(first.samples, "process_cpu_user_seconds_total")).toBeGreaterThanOrEqual(0.3);
  });
});
