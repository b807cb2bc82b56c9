import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { parseDurationMs } from "./duration.js";

/** The typed configuration of one hub process (design section 12). */
export interface HubConfig {
  port: number;
  host: string;
  databaseUrl: string | undefined;
  /** PostgreSQL schema of the hub's tables ("" = the connection's search path); replicas must share it. */
  database: { schema: string };
  dataDir: string;
  hubId: string;
  logLevel: string;
  dynamicAccounts: { enabled: boolean; maxRetries: number; retryFrequencyMs: number; assignTimeoutMs: number };
  grpc: { agentPort: number | undefined };
  heartbeat: { intervalMs: number; missedLimit: number };
  operationTimeoutMs: number;
  hub: { heartbeatIntervalMs: number; leaseTtlMs: number };
  http: { maxBodyBytes: number };
  staticAccounts: { cleanupAfterMs: number };
  autoscan: { enabled: boolean; frequencyMs: number; namePatterns: string[]; batchSize: number };
  interceptor: { enabled: boolean };
  clouddriver: { schema: string };
  /** Holders per account (design section 6): at most `maxHolders` agents of its zone; 0 = every agent of the zone. */
  assignment: { maxHolders: number };
  /** `/metrics` (Prometheus text); false → 404 and no bookkeeping. */
  metrics: { enabled: boolean };
  /** Design section 14: TLS on both listeners ("" = off), mTLS with `clientCaFile`. */
  tls: { certFile: string; keyFile: string; clientCaFile: string };
  /** Design section 14: credentials, JWTs and the unauthenticated escape hatch. */
  auth: {
    enabled: boolean;
    allowUnauthenticated: boolean;
    credentialsFile: string;
    jwt: { jwksFile: string; issuer: string; audience: string };
  };
  /** How long `kubesvc_account_events` keeps a record. */
  audit: { retentionMs: number };
  /** Bounds on every input (design section 15). */
  limits: Limits;
}

/** Bounds on every input (design section 15); README.md "Limits" describes each key. */
export interface Limits {
  /** The largest gRPC/Connect message either way, after decompression. */
  maxMessageBytes: number;
  /** How long a new agent stream may take to send hello. */
  helloTimeoutMs: number;
  /** Static accounts one hello may carry. */
  maxStaticAccounts: number;
  /** Bytes queued for one agent before it counts as not reading. */
  agentOutboxBytes: number;
  /** Open TCP connections per listener. */
  maxConnections: number;
  /** Time a client has to send a request's headers (HTTP/1.1). */
  headersTimeoutMs: number;
  /** Time a client has to send a whole request (HTTP/1.1). */
  requestTimeoutMs: number;
  /** A connection with no traffic either way this long is closed. */
  idleTimeoutMs: number;
  /** Events the assignment engine may have queued before agents' joins are turned away and their results wait. */
  engineQueueEvents: number;
  /** HTTP/2 streams one connection may have open at once, on both listeners. */
  maxConcurrentStreams: number;
}

/** A configuration key or value that cannot be used; the message names the key. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

type Kind = "bool" | "int" | "port" | "duration" | "bytes" | "string" | "list";

interface KeySpec {
  kind: Kind;
  set: (c: HubConfig, v: never) => void;
  /** Environment variable read besides AGENT_HUB_<KEY>. */
  env?: string;
}

function key<K extends Kind>(kind: K, set: (c: HubConfig, v: ValueOf<K>) => void, env?: string): KeySpec {
  return { kind, set: set as (c: HubConfig, v: never) => void, env };
}

type ValueOf<K extends Kind> = K extends "bool"
  ? boolean
  : K extends "string"
    ? string
    : K extends "list"
      ? string[]
      : K extends "port"
        ? number | undefined
        : number;

const KEYS: Record<string, KeySpec> = {
  port: key("int", (c, v) => (c.port = v), "PORT"),
  host: key("string", (c, v) => (c.host = v)),
  databaseUrl: key("string", (c, v) => (c.databaseUrl = v === "" ? undefined : v), "DATABASE_URL"),
  "database.schema": key("string", (c, v) => (c.database.schema = v)),
  dataDir: key("string", (c, v) => (c.dataDir = v)),
  hubId: key("string", (c, v) => (c.hubId = v)),
  "log.level": key("string", (c, v) => (c.logLevel = v)),
  "dynamicAccounts.enabled": key("bool", (c, v) => (c.dynamicAccounts.enabled = v)),
  "kubesvc.dynamicAccounts.enabled": key("bool", (c, v) => (c.dynamicAccounts.enabled = v)),
  "dynamicAccounts.maxRetries": key("int", (c, v) => (c.dynamicAccounts.maxRetries = v)),
  "dynamicAccounts.retryFrequency": key("duration", (c, v) => (c.dynamicAccounts.retryFrequencyMs = v)),
  "grpc.agentPort": key("port", (c, v) => (c.grpc.agentPort = v)),
  "heartbeat.interval": key("duration", (c, v) => (c.heartbeat.intervalMs = v)),
  "heartbeat.missedLimit": key("int", (c, v) => (c.heartbeat.missedLimit = v)),
  operationTimeout: key("duration", (c, v) => (c.operationTimeoutMs = v)),
  "hub.heartbeatInterval": key("duration", (c, v) => (c.hub.heartbeatIntervalMs = v)),
  "hub.leaseTtl": key("duration", (c, v) => (c.hub.leaseTtlMs = v)),
  "http.maxBodyBytes": key("bytes", (c, v) => (c.http.maxBodyBytes = v)),
  "staticAccounts.cleanupAfter": key("duration", (c, v) => (c.staticAccounts.cleanupAfterMs = v)),
  "autoscan.enabled": key("bool", (c, v) => (c.autoscan.enabled = v)),
  "autoscan.frequency": key("duration", (c, v) => (c.autoscan.frequencyMs = v)),
  "autoscan.namePatterns": key("list", (c, v) => (c.autoscan.namePatterns = v)),
  "autoscan.batchSize": key("int", (c, v) => (c.autoscan.batchSize = v)),
  "interceptor.enabled": key("bool", (c, v) => (c.interceptor.enabled = v)),
  "clouddriver.schema": key("string", (c, v) => (c.clouddriver.schema = v)),
  "assignment.maxHolders": key("int", (c, v) => (c.assignment.maxHolders = v)),
  "metrics.enabled": key("bool", (c, v) => (c.metrics.enabled = v)),
  "tls.certFile": key("string", (c, v) => (c.tls.certFile = v)),
  "tls.keyFile": key("string", (c, v) => (c.tls.keyFile = v)),
  "tls.clientCaFile": key("string", (c, v) => (c.tls.clientCaFile = v)),
  "auth.enabled": key("bool", (c, v) => (c.auth.enabled = v)),
  "auth.allowUnauthenticated": key("bool", (c, v) => (c.auth.allowUnauthenticated = v)),
  "auth.credentialsFile": key("string", (c, v) => (c.auth.credentialsFile = v)),
  "auth.jwt.jwksFile": key("string", (c, v) => (c.auth.jwt.jwksFile = v)),
  "auth.jwt.issuer": key("string", (c, v) => (c.auth.jwt.issuer = v)),
  "auth.jwt.audience": key("string", (c, v) => (c.auth.jwt.audience = v)),
  "audit.retention": key("duration", (c, v) => (c.audit.retentionMs = v)),
  "dynamicAccounts.assignTimeout": key("duration", (c, v) => (c.dynamicAccounts.assignTimeoutMs = v)),
  "limits.maxMessageBytes": key("bytes", (c, v) => (c.limits.maxMessageBytes = v)),
  "limits.helloTimeout": key("duration", (c, v) => (c.limits.helloTimeoutMs = v)),
  "limits.maxStaticAccounts": key("int", (c, v) => (c.limits.maxStaticAccounts = v)),
  "limits.agentOutboxBytes": key("bytes", (c, v) => (c.limits.agentOutboxBytes = v)),
  "limits.maxConnections": key("int", (c, v) => (c.limits.maxConnections = v)),
  "limits.headersTimeout": key("duration", (c, v) => (c.limits.headersTimeoutMs = v)),
  "limits.requestTimeout": key("duration", (c, v) => (c.limits.requestTimeoutMs = v)),
  "limits.idleTimeout": key("duration", (c, v) => (c.limits.idleTimeoutMs = v)),
  "limits.engineQueueEvents": key("int", (c, v) => (c.limits.engineQueueEvents = v)),
  "limits.maxConcurrentStreams": key("int", (c, v) => (c.limits.maxConcurrentStreams = v)),
};

/** The defaults of design section 12. */
export function defaultConfig(): HubConfig {
  return {
    port: 7002,
    // "" until loadConfig resolves it: 127.0.0.1 without auth, :: with it (design section 14).
    host: "",
    databaseUrl: undefined,
    database: { schema: "" },
    dataDir: "./data",
    hubId: "",
    logLevel: "info",
    dynamicAccounts: { enabled: true, maxRetries: 3, retryFrequencyMs: 5_000, assignTimeoutMs: 30_000 },
    grpc: { agentPort: undefined },
    heartbeat: { intervalMs: 20_000, missedLimit: 3 },
    operationTimeoutMs: 30_000,
    hub: { heartbeatIntervalMs: 2_000, leaseTtlMs: 10_000 },
    http: { maxBodyBytes: 8 * 1024 * 1024 },
    staticAccounts: { cleanupAfterMs: 10 * 60_000 },
    autoscan: { enabled: false, frequencyMs: 120_000, namePatterns: [], batchSize: 100 },
    interceptor: { enabled: false },
    clouddriver: { schema: "" },
    assignment: { maxHolders: 3 },
    metrics: { enabled: true },
    tls: { certFile: "", keyFile: "", clientCaFile: "" },
    auth: { enabled: false, allowUnauthenticated: false, credentialsFile: "", jwt: { jwksFile: "", issuer: "", audience: "" } },
    audit: { retentionMs: 30 * 86_400_000 },
    limits: {
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
    },
  };
}

/** `dynamicAccounts.maxRetries` → `AGENT_HUB_DYNAMIC_ACCOUNTS_MAX_RETRIES`. */
export function envName(path: string): string {
  return "AGENT_HUB_" + path.replace(/\./g, "_").replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
}

const BYTE_UNITS: Record<string, number> = { "": 1, b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, kb: 1000, mb: 1000 ** 2, gb: 1000 ** 3 };

function parseValue(path: string, kind: Kind, raw: unknown): unknown {
  const bad = (what: string): never => {
    throw new ConfigError(`configuration key ${path}: ${what} (got ${JSON.stringify(raw)})`);
  };
  const text = typeof raw === "string" ? raw.trim() : undefined;
  switch (kind) {
    case "bool":
      if (typeof raw === "boolean") return raw;
      if (text === "true") return true;
      if (text === "false") return false;
      return bad("expected true or false");
    case "int":
    case "port": {
      const n = typeof raw === "number" ? raw : text !== undefined && /^-?\d+$/.test(text) ? Number(text) : NaN;
      if (kind === "port" && (raw === "off" || raw === false || raw === "")) return undefined;
      if (!Number.isSafeInteger(n) || n < 0) return bad("expected a whole number ≥ 0");
      if (kind === "port" && n > 65535) return bad("expected a port number 0–65535 or off");
      if (path === "port" && n > 65535) return bad("expected a port number 0–65535");
      return n;
    }
    case "duration": {
      if (typeof raw === "number" && Number.isFinite(raw) && raw >= 0) return raw;
      const ms = text === undefined ? undefined : parseDurationMs(text);
      if (ms === undefined) return bad("expected a duration such as 500ms, 5s, 2m or a number of milliseconds");
      return ms;
    }
    case "bytes": {
      if (typeof raw === "number" && Number.isSafeInteger(raw) && raw > 0) return raw;
      const m = text?.toLowerCase().match(/^(\d+)\s*(b|kib|mib|gib|kb|mb|gb)?$/);
      if (!m || Number(m[1]) <= 0) return bad("expected a size such as 8MiB or a number of bytes");
      return Number(m[1]) * BYTE_UNITS[m[2] ?? ""]!;
    }
    case "string":
      if (typeof raw === "string") return raw;
      if (typeof raw === "number") return String(raw);
      return bad("expected a string");
    case "list":
      if (Array.isArray(raw) && raw.every((x) => typeof x === "string")) return raw;
      if (typeof raw === "string") return raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
      return bad("expected a list of strings");
  }
}

function flatten(obj: unknown, prefix: string, out: Map<string, unknown>): void {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
    out.set(prefix, obj);
    return;
  }
  for (const [k, v] of Object.entries(obj)) {
    const path = prefix === "" ? k : `${prefix}.${k}`;
    // A leaf key whose value is an object is still a leaf to report (e.g. `port: {a: 1}`).
    if (KEYS[path] !== undefined) out.set(path, v);
    else flatten(v, path, out);
  }
}

/**
 * Builds the configuration from an optional YAML file overlaid by environment variables.
 * Unknown keys and bad values throw a ConfigError naming the key.
 */
export function loadConfig(options: { file?: string; env?: NodeJS.ProcessEnv; overrides?: Record<string, unknown> } = {}): HubConfig {
  const config = defaultConfig();
  const values = new Map<string, unknown>();
  if (options.file !== undefined) {
    let doc: unknown;
    try {
      doc = parseYaml(readFileSync(options.file, "utf8"));
    } catch (err) {
      throw new ConfigError(`cannot read configuration file ${options.file}: ${(err as Error).message}`);
    }
    if (doc !== null && doc !== undefined) {
      if (typeof doc !== "object" || Array.isArray(doc)) throw new ConfigError(`configuration file ${options.file}: expected a mapping of keys`);
      flatten(doc, "", values);
    }
  }
  const env = options.env ?? process.env;
  const byEnv = new Map<string, string>();
  for (const [path, spec] of Object.entries(KEYS)) {
    byEnv.set(envName(path), path);
    if (spec.env !== undefined) byEnv.set(spec.env, path);
  }
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined) continue;
    const path = byEnv.get(name);
    if (path !== undefined) values.set(path, raw);
    else if (name.startsWith("AGENT_HUB_")) throw new ConfigError(`unknown configuration variable ${name}`);
  }
  for (const [path, raw] of Object.entries(options.overrides ?? {})) values.set(path, raw);
  for (const [path, raw] of values) {
    const spec = KEYS[path];
    if (spec === undefined) throw new ConfigError(`unknown configuration key ${path}`);
    spec.set(config, parseValue(path, spec.kind, raw) as never);
  }
  if (config.port > 65535) throw new ConfigError("configuration key port: expected a port number 0–65535");
  if (config.heartbeat.intervalMs <= 0) throw new ConfigError("configuration key heartbeat.interval: must be more than 0");
  if (config.heartbeat.missedLimit < 1) throw new ConfigError("configuration key heartbeat.missedLimit: must be at least 1");
  if (config.autoscan.batchSize < 1) throw new ConfigError("configuration key autoscan.batchSize: must be at least 1");
  if (!/^(trace|debug|info|warn|error|fatal|silent)$/.test(config.logLevel)) throw new ConfigError(`configuration key log.level: unknown level ${config.logLevel}`);
  for (const [path, ms] of [["dynamicAccounts.assignTimeout", config.dynamicAccounts.assignTimeoutMs], ["limits.helloTimeout", config.limits.helloTimeoutMs], ["limits.headersTimeout", config.limits.headersTimeoutMs], ["limits.requestTimeout", config.limits.requestTimeoutMs], ["limits.idleTimeout", config.limits.idleTimeoutMs], ["limits.maxConnections", config.limits.maxConnections], ["limits.engineQueueEvents", config.limits.engineQueueEvents], ["limits.maxConcurrentStreams", config.limits.maxConcurrentStreams]] as const) {
    if (ms <= 0) throw new ConfigError(`configuration key ${path}: must be more than 0`);
  }
  if (config.limits.idleTimeoutMs <= config.heartbeat.intervalMs) {
    throw new ConfigError("configuration key limits.idleTimeout: must be longer than heartbeat.interval, or idle agents would be cut");
  }
  if (config.database.schema !== "" && !/^[A-Za-z_][A-Za-z0-9_$]*$/.test(config.database.schema)) {
    throw new ConfigError(`configuration key database.schema: not a plain schema name (${config.database.schema})`);
  }
  if (config.clouddriver.schema !== "" && !/^[A-Za-z_][A-Za-z0-9_$]*$/.test(config.clouddriver.schema)) {
    throw new ConfigError(`configuration key clouddriver.schema: not a plain schema name (${config.clouddriver.schema})`);
  }
  checkSecurity(config);
  return config;
}

/** Whether `host` only listens on this machine. */
export function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host) || /^::ffff:127\./i.test(host);
}

/**
 * Design section 14: secure by default. Resolves the host default (127.0.0.1 without auth, ::
 * with it), refuses a non-loopback listener without auth unless `auth.allowUnauthenticated`,
 * and checks that the tls and auth keys come in usable sets.
 */
function checkSecurity(config: HubConfig): void {
  if (config.host === "") config.host = config.auth.enabled ? "::" : "127.0.0.1";
  if (!config.auth.enabled && !config.auth.allowUnauthenticated && !isLoopbackHost(config.host)) {
    throw new ConfigError(
      `configuration key host: ${config.host} is reachable from other machines but auth.enabled is false; enable auth, or set auth.allowUnauthenticated: true to serve without it`,
    );
  }
  if ((config.tls.certFile === "") !== (config.tls.keyFile === "")) {
    throw new ConfigError("configuration key tls.certFile / tls.keyFile: set both or neither");
  }
  if (config.tls.clientCaFile !== "" && config.tls.certFile === "") {
    throw new ConfigError("configuration key tls.clientCaFile: needs tls.certFile and tls.keyFile (client certificates need TLS)");
  }
  const jwt = [config.auth.jwt.jwksFile, config.auth.jwt.issuer, config.auth.jwt.audience];
  if (jwt.some((v) => v !== "") && jwt.some((v) => v === "")) {
    throw new ConfigError("configuration key auth.jwt: jwksFile, issuer and audience must all be set, or none");
  }
  if (config.auth.enabled && config.auth.credentialsFile === "" && config.auth.jwt.jwksFile === "") {
    throw new ConfigError("configuration key auth.enabled: true needs auth.credentialsFile or auth.jwt.* (nobody could sign in)");
  }
}
