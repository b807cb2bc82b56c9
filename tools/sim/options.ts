import { parseArgs } from "node:util";
import { parseDurationMs } from "../../src/config/duration.js";
import { loopbackUrl } from "./loopback.js";
import { parseReachability } from "./reachability.js";

/** Everything a simulation run is told (`npm run sim -- --help` lists the flags). */
export interface SimOptions {
  /** `local` starts a hub in a child process; otherwise the hub's loopback URL. */
  hub: "local" | { url: string; agentUrl: string };
  agents: number;
  zones: number;
  staticPerZone: number;
  accounts: number;
  unpinnedFraction: number;
  workers: number;
  heartbeatMs: number | undefined;
  reach: string;
  opLatencyMs: number;
  /** Agents bounced per second during the operations phase. */
  churnPerSec: number;
  churnDowntimeMs: number;
  /** Length of the operations (and churn) phase. */
  durationMs: number;
  opsRate: number;
  opsConcurrency: number;
  /** Agents killed for the failover measurement. */
  kill: number;
  /** After failover: every agent drops at once and redials within a second (reconnect storm). */
  storm: boolean;
  /** Accounts per REST create/activate request. */
  batch: number;
  /** How long each waiting phase may take before the run gives up on it. */
  phaseTimeoutMs: number;
  /** Prefix of every name the run creates. */
  prefix: string;
  json: string | undefined;
  hubConfig: Record<string, string>;
  hubLog: string | undefined;
  /** Directory for a CPU profile of the local hub. */
  hubProfile: string | undefined;
  /** Node.js flags of the local hub's process (e.g. the deployment's --max-old-space-size). */
  hubNodeOptions: string[];
  /** Show a progress bar (TTY) instead of plain lines. */
  tty: boolean;
}

export const SIM_USAGE = `usage: npm run sim -- [options]

Plays many agents against a hub over the real protocol and drives its REST API.
Targets must be on this machine (127.0.0.1, ::1, localhost).

  --hub local | URL        start a hub in a child process (default), or use the hub at URL
  --agent-target URL       where agents dial when --hub is a URL (default: the same URL)
  --agents N               agents (default 100)
  --zones Z                zones; agents are dealt round-robin (default agents/2)
  --static S               static accounts per zone, registered by each of its agents (default 2)
  --accounts M             dynamic accounts to create and activate (default 1000)
  --unpinned F             fraction of dynamic accounts without a zoneId (default 0.2)
  --workers W              agent processes; 0 = in this process (default 1 per 2500 agents, at least 1)
  --heartbeat DUR          agent heartbeat interval (default: what the hub's welcome says)
  --reach SPEC             0–1: fraction of accounts a zone reaches in its own cluster (the rest
                           fall back to other zones), or "0=c0,c1;3=*" zone index → clusters (default 1)
  --op-latency DUR         time an agent takes per operation (default 0)
  --churn RATE             agents dropped and redialed per second during the operations phase (default 0)
  --churn-downtime DUR     how long a churned agent stays away (default 2s)
  --duration DUR           length of the operations phase (default 10s)
  --ops-rate RATE          operations per second to aim at (default 200; 0 = none)
  --ops-concurrency C      operations in flight at most (default 32)
  --kill K                 agents killed to measure failover (default agents/100, at least 1; 0 = skip)
  --storm                  after failover, every agent drops at once and redials within 1 s
  --batch B                accounts per create/activate request (default 500)
  --phase-timeout DUR      give up on a phase after this long (default 120s)
  --prefix P               prefix of every created name (default "" for a local hub, random otherwise)
  --hub-config KEY=VALUE   configuration of the local hub (repeatable), e.g. heartbeat.interval=2s
  --hub-log FILE           append the local hub's log to FILE
  --hub-profile DIR        write a V8 CPU profile of the local hub into DIR (open in Chrome DevTools)
  --hub-node-options=FLAGS Node.js flags for the local hub, e.g. --hub-node-options=--max-old-space-size=1024
  --json FILE              write the report as JSON
  --plain                  plain progress lines even on a TTY

Durations: 500ms, 5s, 2m or milliseconds.
`;

/** A bad flag; the message names it. */
export class SimUsageError extends Error {
  override name = "SimUsageError";
}

/** Parses a flag's duration (`500ms`, `5s`, `2m` or a number of milliseconds; the hub's grammar). */
function parseDuration(flag: string, text: string): number {
  const ms = parseDurationMs(text);
  if (ms === undefined) throw new SimUsageError(`${flag}: expected a duration such as 500ms, 5s or 2m, got ${JSON.stringify(text)}`);
  return ms;
}

function number(flag: string, text: string | undefined, fallback: number, check: (n: number) => boolean, what: string): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || !check(n)) throw new SimUsageError(`${flag}: expected ${what}, got ${JSON.stringify(text)}`);
  return n;
}

const whole = (n: number) => Number.isInteger(n) && n >= 0;
const positive = (n: number) => Number.isInteger(n) && n >= 1;
const fraction = (n: number) => n >= 0 && n <= 1;
const rate = (n: number) => n >= 0;

function validReach(spec: string): string {
  try {
    parseReachability(spec);
  } catch (err) {
    throw new SimUsageError(err instanceof Error ? err.message : String(err));
  }
  return spec;
}

/** Parses the `sim` command's arguments; `tty` says whether stdout is a terminal. */
export function parseSimOptions(args: string[], tty: boolean): SimOptions | "help" {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      hub: { type: "string" },
      "agent-target": { type: "string" },
      agents: { type: "string" },
      zones: { type: "string" },
      static: { type: "string" },
      accounts: { type: "string" },
      unpinned: { type: "string" },
      workers: { type: "string" },
      heartbeat: { type: "string" },
      reach: { type: "string" },
      "op-latency": { type: "string" },
      churn: { type: "string" },
      "churn-downtime": { type: "string" },
      duration: { type: "string" },
      "ops-rate": { type: "string" },
      "ops-concurrency": { type: "string" },
      kill: { type: "string" },
      storm: { type: "boolean" },
      batch: { type: "string" },
      "phase-timeout": { type: "string" },
      prefix: { type: "string" },
      "hub-config": { type: "string", multiple: true },
      "hub-log": { type: "string" },
      "hub-profile": { type: "string" },
      "hub-node-options": { type: "string" },
      json: { type: "string" },
      plain: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help === true) return "help";
  const agents = number("--agents", values.agents, 100, positive, "a whole number ≥ 1");
  const hubFlag = values.hub ?? "local";
  let hub: SimOptions["hub"] = "local";
  if (hubFlag !== "local") {
    const url = loopbackUrl(hubFlag).toString().replace(/\/$/, "");
    hub = { url, agentUrl: loopbackUrl(values["agent-target"] ?? url).toString().replace(/\/$/, "") };
  } else if (values["agent-target"] !== undefined) {
    throw new SimUsageError("--agent-target: only with --hub URL (a local hub's agent port is known)");
  }
  const hubConfig: Record<string, string> = {};
  for (const kv of values["hub-config"] ?? []) {
    const eq = kv.indexOf("=");
    if (eq <= 0) throw new SimUsageError(`--hub-config: expected KEY=VALUE, got ${JSON.stringify(kv)}`);
    hubConfig[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  if (hub !== "local" && (Object.keys(hubConfig).length > 0 || values["hub-log"] !== undefined || values["hub-profile"] !== undefined || values["hub-node-options"] !== undefined)) {
    throw new SimUsageError("--hub-config, --hub-log, --hub-profile and --hub-node-options apply to --hub local only");
  }
  const hubNodeOptions = (values["hub-node-options"] ?? "").split(/\s+/).filter((flag) => flag !== "");
  const notFlag = hubNodeOptions.find((flag) => !flag.startsWith("--"));
  if (notFlag !== undefined) throw new SimUsageError(`--hub-node-options: expected Node.js flags (--name or --name=value), got ${JSON.stringify(notFlag)}`);
  return {
    hub,
    agents,
    zones: number("--zones", values.zones, Math.max(1, Math.ceil(agents / 2)), positive, "a whole number ≥ 1"),
    staticPerZone: number("--static", values.static, 2, whole, "a whole number ≥ 0"),
    accounts: number("--accounts", values.accounts, 1000, whole, "a whole number ≥ 0"),
    unpinnedFraction: number("--unpinned", values.unpinned, 0.2, fraction, "a fraction 0–1"),
    workers: number("--workers", values.workers, Math.max(1, Math.ceil(agents / 2500)), whole, "a whole number ≥ 0"),
    heartbeatMs: values.heartbeat === undefined ? undefined : parseDuration("--heartbeat", values.heartbeat),
    reach: validReach(values.reach ?? "1"),
    opLatencyMs: values["op-latency"] === undefined ? 0 : parseDuration("--op-latency", values["op-latency"]),
    churnPerSec: number("--churn", values.churn, 0, rate, "a rate ≥ 0"),
    churnDowntimeMs: values["churn-downtime"] === undefined ? 2_000 : parseDuration("--churn-downtime", values["churn-downtime"]),
    durationMs: values.duration === undefined ? 10_000 : parseDuration("--duration", values.duration),
    opsRate: number("--ops-rate", values["ops-rate"], 200, rate, "a rate ≥ 0"),
    opsConcurrency: number("--ops-concurrency", values["ops-concurrency"], 32, positive, "a whole number ≥ 1"),
    kill: number("--kill", values.kill, Math.max(1, Math.floor(agents / 100)), whole, "a whole number ≥ 0"),
    storm: values.storm === true,
    batch: number("--batch", values.batch, 500, (n) => positive(n) && n <= 10_000, "a whole number 1–10000"),
    phaseTimeoutMs: values["phase-timeout"] === undefined ? 120_000 : parseDuration("--phase-timeout", values["phase-timeout"]),
    prefix: values.prefix ?? (hub === "local" ? "" : `sim${Date.now().toString(36)}-`),
    json: values.json,
    hubConfig,
    hubLog: values["hub-log"],
    hubProfile: values["hub-profile"],
    hubNodeOptions,
    tty: tty && values.plain !== true,
  };
}
