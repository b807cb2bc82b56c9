import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, defaultConfig, envName, loadConfig } from "../../src/config/config.js";

function yamlFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "agent-hub-config-"));
  const file = join(dir, "config.yaml");
  writeFileSync(file, text);
  return file;
}

describe("loadConfig", () => {
  it("gives the design's defaults with no file and no environment", () => {
    const c = loadConfig({ env: {} });
    expect(c).toEqual({ ...defaultConfig(), host: "127.0.0.1" });
    expect(c.port).toBe(7002);
    expect(c.dynamicAccounts).toEqual({ enabled: true, maxRetries: 3, retryFrequencyMs: 5000, assignTimeoutMs: 30000 });
    expect(c.heartbeat).toEqual({ intervalMs: 20000, missedLimit: 3 });
    expect(c.operationTimeoutMs).toBe(30000);
    expect(c.hub).toEqual({ heartbeatIntervalMs: 2000, leaseTtlMs: 10000 });
    expect(c.http.maxBodyBytes).toBe(8 * 1024 * 1024);
    expect(c.staticAccounts.cleanupAfterMs).toBe(600000);
    expect(c.grpc.agentPort).toBeUndefined();
  });

  it("reads YAML, with durations and sizes in words", () => {
    const file = yamlFile(`
port: 9000
dynamicAccounts:
  maxRetries: 5
  retryFrequency: 500ms
heartbeat:
  interval: 2s
operationTimeout: 1m
http:
  maxBodyBytes: 1MiB
autoscan:
  enabled: true
  namePatterns: [prod-*, staging-]
grpc:
  agentPort: 9091
`);
    const c = loadConfig({ file, env: {} });
    expect(c.port).toBe(9000);
    expect(c.dynamicAccounts.maxRetries).toBe(5);
    expect(c.dynamicAccounts.retryFrequencyMs).toBe(500);
    expect(c.heartbeat.intervalMs).toBe(2000);
    expect(c.operationTimeoutMs).toBe(60000);
    expect(c.http.maxBodyBytes).toBe(1024 * 1024);
    expect(c.autoscan.namePatterns).toEqual(["prod-*", "staging-"]);
    expect(c.grpc.agentPort).toBe(9091);
  });

  it("lets the environment override the file", () => {
    const file = yamlFile("dynamicAccounts:\n  maxRetries: 5\n");
    const c = loadConfig({
      file,
      env: {
        AGENT_HUB_DYNAMIC_ACCOUNTS_MAX_RETRIES: "7",
        PORT: "8080",
        DATABASE_URL: "postgres://x@h/db",
        AGENT_HUB_DATA_DIR: "/tmp/d",
        AGENT_HUB_DATABASE_SCHEMA: "hub_one",
      },
    });
    expect(c.database.schema).toBe("hub_one");
    expect(c.dynamicAccounts.maxRetries).toBe(7);
    expect(c.port).toBe(8080);
    expect(c.databaseUrl).toBe("postgres://x@h/db");
    expect(c.dataDir).toBe("/tmp/d");
  });

  it("accepts the plugin's kubesvc.dynamicAccounts.enabled as an alias", () => {
    const file = yamlFile("kubesvc:\n  dynamicAccounts:\n    enabled: false\n");
    expect(loadConfig({ file, env: {} }).dynamicAccounts.enabled).toBe(false);
  });

  it("names the environment variables after the key path", () => {
    expect(envName("dynamicAccounts.maxRetries")).toBe("AGENT_HUB_DYNAMIC_ACCOUNTS_MAX_RETRIES");
    expect(envName("http.maxBodyBytes")).toBe("AGENT_HUB_HTTP_MAX_BODY_BYTES");
  });

  it.each<[string, { file?: string; env?: Record<string, string> }, RegExp]>([
    ["unknown key in the file", { file: "dynamicAccount:\n  enabled: true\n" }, /unknown configuration key dynamicAccount\.enabled/],
    ["bad boolean", { file: "dynamicAccounts:\n  enabled: yes-please\n" }, /dynamicAccounts\.enabled/],
    ["bad duration", { file: "heartbeat:\n  interval: soon\n" }, /heartbeat\.interval/],
    ["negative number", { file: "dynamicAccounts:\n  maxRetries: -1\n" }, /dynamicAccounts\.maxRetries/],
    ["port out of range", { env: { PORT: "70000" } }, /port/],
    ["unknown environment variable", { env: { AGENT_HUB_NOPE: "1" } }, /AGENT_HUB_NOPE/],
    ["bad size", { env: { AGENT_HUB_HTTP_MAX_BODY_BYTES: "lots" } }, /http\.maxBodyBytes/],
    ["not a mapping", { file: "- a\n- b\n" }, /mapping/],
  ])("refuses %s with a message naming it", (_what, input, message) => {
    const options = { env: input.env ?? {}, ...(input.file === undefined ? {} : { file: yamlFile(input.file) }) };
    expect(() => loadConfig(options)).toThrow(ConfigError);
    expect(() => loadConfig(options)).toThrow(message);
  });

  it("serves metrics unless metrics.enabled is false (file or environment)", () => {
    expect(loadConfig({ env: {} }).metrics.enabled).toBe(true);
    expect(loadConfig({ file: yamlFile("metrics:\n  enabled: false\n"), env: {} }).metrics.enabled).toBe(false);
    expect(loadConfig({ env: { AGENT_HUB_METRICS_ENABLED: "false" } }).metrics.enabled).toBe(false);
    expect(() => loadConfig({ env: { AGENT_HUB_METRICS_ENABLED: "sometimes" } })).toThrow(/metrics\.enabled/);
  });

  it("refuses a missing file with its path", () => {
    expect(() => loadConfig({ file: "/nonexistent/agent-hub.yaml", env: {} })).toThrow(/\/nonexistent\/agent-hub\.yaml/);
  });

  it("reads assignment.maxHolders (default 3, 0 = every agent of the zone) and refuses a negative one", () => {
    expect(loadConfig({ env: {} }).assignment.maxHolders).toBe(3);
    expect(loadConfig({ env: { AGENT_HUB_ASSIGNMENT_MAX_HOLDERS: "0" } }).assignment.maxHolders).toBe(0);
    expect(loadConfig({ file: yamlFile("assignment:\n  maxHolders: 5\n"), env: {} }).assignment.maxHolders).toBe(5);
    expect(() => loadConfig({ env: { AGENT_HUB_ASSIGNMENT_MAX_HOLDERS: "-1" } })).toThrow(/assignment\.maxHolders/);
  });

  it("reads limits.* and dynamicAccounts.assignTimeout with the design's defaults (section 15)", () => {
    expect(loadConfig({ env: {} }).limits).toEqual({
      maxMessageBytes: 4 * 1024 * 1024,
      helloTimeoutMs: 10_000,
      maxStaticAccounts: 1000,
      agentOutboxBytes: 16 * 1024 * 1024,
      maxConnections: 15_000,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 60_000,
      idleTimeoutMs: 120_000,
      engineQueueEvents: 100_000,
      maxConcurrentStreams: 1000,
    });
    const c = loadConfig({
      env: { AGENT_HUB_LIMITS_MAX_MESSAGE_BYTES: "1MiB", AGENT_HUB_DYNAMIC_ACCOUNTS_ASSIGN_TIMEOUT: "2s" },
      overrides: { "limits.helloTimeout": "500ms", "limits.agentOutboxBytes": "2MiB", "limits.maxStaticAccounts": 10 },
    });
    expect(c.limits.maxMessageBytes).toBe(1024 * 1024);
    expect(c.limits.helloTimeoutMs).toBe(500);
    expect(c.limits.agentOutboxBytes).toBe(2 * 1024 * 1024);
    expect(c.limits.maxStaticAccounts).toBe(10);
    expect(c.dynamicAccounts.assignTimeoutMs).toBe(2000);
    expect(() => loadConfig({ env: {}, overrides: { "limits.helloTimeout": "0" } })).toThrow(/limits\.helloTimeout/);
    expect(() => loadConfig({ env: {}, overrides: { "limits.maxMessageBytes": "lots" } })).toThrow(/limits\.maxMessageBytes/);
    expect(() => loadConfig({ env: {}, overrides: { "limits.idleTimeout": "10s" } })).toThrow(/limits\.idleTimeout/);
  });
});
