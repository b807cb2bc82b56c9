import { describe, expect, it } from "vitest";
import { definition, startScenario, useScenario, type AccountJson } from "../hub/support/hub-scenario.js";
import { eventually } from "../support/eventually.js";
import { DATABASE_KINDS } from "../support/databases.js";
import { scrape, valueOf } from "../support/prometheus.js";

/** The names design section 16 fixes, with the type each must have. */
const DESIGN_METRICS: Record<string, string> = {
  agenthub_agents_connected: "gauge",
  agenthub_accounts: "gauge",
  agenthub_activation_seconds: "histogram",
  agenthub_failover_seconds: "histogram",
  agenthub_operations_total: "counter",
  agenthub_operation_seconds: "histogram",
  agenthub_engine_batch_seconds: "histogram",
  agenthub_event_loop_delay_seconds: "gauge",
  agenthub_database_statements_total: "counter",
  agenthub_database_notifies_total: "counter",
};

describe.each(DATABASE_KINDS)("/metrics on %s", (kind) => {
  const scenario = useScenario(kind);

  it("agrees with the REST view after a small simulated load: agents, accounts by status, activations, operations, failover", async () => {
    const s = scenario();
    const metricsUrl = `${s.hub.url}/metrics`;
    const before = await scrape(metricsUrl);
    for (const [name, type] of Object.entries(DESIGN_METRICS)) expect(before.types.get(name), name).toBe(type);
    // Default Node process metrics.
    expect(before.types.get("process_cpu_user_seconds_total")).toBe("counter");
    expect(before.types.get("nodejs_heap_size_used_bytes")).toBe("gauge");
    const batchesBefore = valueOf(before.samples, "agenthub_engine_batch_seconds_count");

    // Zone m: two agents; zone n: one agent whose cluster refuses one account.
    for (const agentId of ["m-1", "m-2"]) {
      await s.connect({ agentId, zoneId: "m", onOperation: (op) => (op.opKind === "fail" ? { outcome: "ERROR", message: "forbidden" } : { outcome: "OK" }) });
    }
    await s.connect({ agentId: "n-1", zoneId: "n", onAccount: (account) => (account === "refused" ? { outcome: "ERROR", message: "bad kubeconfig" } : { outcome: "OK" }) });
    const activeNames = ["metric-1", "metric-2", "metric-3", "metric-4"];
    for (const name of activeNames) await s.createActive(definition(name, "m"));
    await s.createActive(definition("refused", "n"));
    await s.createActive(definition("nobody-there", "z"));
    expect((await s.rest("POST", "/armory/accounts/dynamic", definition("left-inactive", "m"))).status).toBe(202);
    await eventually(async () => {
      for (const name of activeNames) expect((await s.account(name)).status).toBe("ACTIVE");
      expect((await s.account("refused")).status).toBe("FAILED");
      expect((await s.account("nobody-there")).status).toBe("ORPHANED");
    });

    for (let i = 0; i < 5; i++) expect((await s.rest("POST", "/armory/operations", { account: "metric-1", kind: "get", payload: { i } })).status).toBe(200);
    expect((await s.rest("POST", "/armory/operations", { account: "metric-2", kind: "fail", payload: {} })).status).toBe(200);
    expect((await s.rest("POST", "/armory/operations", { account: "no-such-account", kind: "get", payload: {} })).status).toBe(404);

    // The caching holder of some accounts goes away: each of them fails over to the other agent of m.
    const cachedBy = new Map<string, string[]>();
    for (const name of activeNames) {
      const holder = (await s.account(name)).agents.find((a) => a.caching)!.agentId;
      cachedBy.set(holder, [...(cachedBy.get(holder) ?? []), name]);
    }
    const [goneId, failedOver] = [...cachedBy].sort((a, b) => b[1].length - a[1].length)[0]!;
    s.agents.find((a) => a.agentId === goneId)!.cancel();
    await eventually(async () => {
      for (const name of failedOver) expect((await s.account(name)).agents).toEqual([{ agentId: goneId === "m-1" ? "m-2" : "m-1", caching: true }]);
    });

    // What REST shows, and what the scrape must agree with.
    const agents = await s.agentList();
    const list = (await s.rest("GET", "/armory/accounts?limit=1000")).json as { items: AccountJson[]; total: number };
    const byStatus = new Map<string, number>();
    for (const a of list.items) byStatus.set(a.status, (byStatus.get(a.status) ?? 0) + 1);
    expect(Object.fromEntries(byStatus)).toEqual({ ACTIVE: 4, FAILED: 1, ORPHANED: 1, INACTIVE: 1 });

    await eventually(async () => {
      const { samples, text } = await scrape(metricsUrl);
      expect(valueOf(samples, "agenthub_agents_connected")).toBe(agents.length);
      expect(agents.length).toBe(2);
      expect(list.total).toBe(7);
      for (const status of ["INACTIVE", "ACTIVE", "FAILED", "ORPHANED", "ACTIVATING", "TO_DEACTIVATE", "DEACTIVATING", "DELETING"]) {
        expect(valueOf(samples, "agenthub_accounts", { status }), status).toBe(byStatus.get(status) ?? 0);
      }
      // The four accounts an agent confirmed; not the FAILED, ORPHANED or never activated ones.
      expect(valueOf(samples, "agenthub_activation_seconds_count")).toBe(activeNames.length);
      expect(valueOf(samples, "agenthub_activation_seconds_sum")).toBeGreaterThan(0);
      expect(valueOf(samples, "agenthub_operations_total", { outcome: "OK" })).toBe(5);
      expect(valueOf(samples, "agenthub_operations_total", { outcome: "ERROR" })).toBe(1);
      expect(valueOf(samples, "agenthub_operations_total", { outcome: "not_found" })).toBe(1);
      expect(valueOf(samples, "agenthub_operation_seconds_count")).toBe(7);
      expect(valueOf(samples, "agenthub_failover_seconds_count")).toBe(failedOver.length);
      expect(valueOf(samples, "agenthub_failover_seconds_bucket", { le: "+Inf" })).toBe(failedOver.length);
      expect(valueOf(samples, "agenthub_engine_batch_seconds_count")).toBeGreaterThan(batchesBefore);
      expect(valueOf(samples, "agenthub_event_loop_delay_seconds", { quantile: "1" })).toBeGreaterThanOrEqual(0);
      // PGlite has no other replica and counts nothing; PostgreSQL counts every statement sent.
      const statements = valueOf(samples, "agenthub_database_statements_total");
      if (kind === "postgres") expect(statements).toBeGreaterThan(valueOf(before.samples, "agenthub_database_statements_total"));
      else expect(statements).toBe(0);
      expect(valueOf(samples, "agenthub_database_notifies_total")).toBeLessThanOrEqual(statements);
      // Low cardinality: no label carries an agent or account name.
      for (const name of [...activeNames, "refused", "nobody-there", "left-inactive", "m-1", "m-2", "n-1"]) expect(text).not.toContain(`"${name}"`);
    });
  });
});

describe("metrics.enabled: false", () => {
  it("answers /metrics with 404 while the probes still answer", async () => {
    const s = await startScenario("postgres", { "metrics.enabled": false });
    try {
      expect((await fetch(`${s.hub.url}/metrics`)).status).toBe(404);
      expect((await fetch(`${s.hub.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${s.hub.url}/readyz`)).status).toBe(200);
    } finally {
      await s.stop();
    }
  });
});
