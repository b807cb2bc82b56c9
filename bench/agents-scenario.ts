import { parseSimOptions, type SimOptions } from "../tools/sim/options.js";
import type { Progress } from "../tools/sim/progress.js";
import type { SimReport } from "../tools/sim/report.js";
import { benchDatabase } from "./bench-database.js";
import { deployedNodeOptions } from "./deployed-node-options.js";
import { runSimulation } from "../tools/sim/simulation.js";
import { measureCeiling, type Ceiling } from "./ceiling.js";
import { throughputRatio, timeRatio, type ResultRow } from "./table.js";

/** The shape of an agents-and-accounts scenario. */
export interface AgentsScenario {
  agents: number;
  zones: number;
  accounts: number;
  /** Every agent drops at once and redials within a second, after failover. */
  storm: boolean;
  opsConcurrency: number;
  opsDurationMs: number;
  kill: number;
  workers: number;
  /** Hub processes on the one PostgreSQL (default 1); agents spread over them by worker. */
  replicas?: number;
  /** With replicas: after failover, the last replica is killed with -9 (design section 11). */
  killReplica?: boolean;
}

/** The hub's default `hub.leaseTtl`: a dead replica's agents are taken over once it has run out. */
const LEASE_TTL_MS = 10_000;

/** What such a scenario writes to bench/results. */
export interface AgentsResult {
  /** The database the hub ran on (PostgreSQL is the headline). */
  database: "postgres" | "pglite";
  scenario: AgentsScenario;
  report: SimReport;
  ceiling: Ceiling;
  rows: ResultRow[];
}

const GIB = 1024 ** 3;

/**
 * Runs the raw echo ceiling with the scenario's stream count and concurrency, then the same
 * shape against a local hub, and pairs the figures.
 */
export async function runAgentsScenario(s: AgentsScenario, progress: Progress, kind: "postgres" | "pglite" = "postgres"): Promise<AgentsResult> {
  progress.log(`ceiling: raw echo with ${s.agents} streams, ${s.opsConcurrency} in flight`);
  const ceiling = await measureCeiling(s.agents, s.workers, [
    { kind: "operation", ratePerSec: 1e6, concurrency: s.opsConcurrency, durationMs: s.opsDurationMs },
    { kind: "assignment", ratePerSec: 1e6, concurrency: s.opsConcurrency, durationMs: Math.min(5_000, s.opsDurationMs) },
  ]);
  progress.log(`hub on ${kind}: ${s.agents} agents in ${s.zones} zones, ${s.accounts} accounts`);
  const database = benchDatabase(kind);
  const options = parseSimOptions(
    [
      ...["--agents", String(s.agents), "--zones", String(s.zones), "--accounts", String(s.accounts), "--workers", String(s.workers)],
      ...(s.storm ? ["--storm"] : []),
      // The heap limit of deploy/kubernetes/deployment.yaml: RSS is measured as a replica runs there.
      `--hub-node-options=${deployedNodeOptions().join(" ")}`,
      ...Object.entries(database.overrides).flatMap(([k, v]) => ["--hub-config", `${k}=${v}`]),
      ...["--ops-rate", "1000000", "--ops-concurrency", String(s.opsConcurrency), "--duration", `${s.opsDurationMs}ms`],
      ...["--kill", String(s.kill), "--phase-timeout", "300s", "--batch", "1000"],
      // Failover is timed from the stream's end; the default heartbeat would not change it.
      // BENCH_HUB_LOG=FILE keeps the hub's warnings (why streams ended) instead.
      ...(process.env.BENCH_HUB_LOG === undefined ? ["--hub-config", "log.level=error"] : ["--hub-config", "log.level=warn", "--hub-log", process.env.BENCH_HUB_LOG]),
      // A CPU profile of the hub (design: profile before optimising), when asked for.
      ...(process.env.BENCH_HUB_PROFILE === undefined ? [] : ["--hub-profile", process.env.BENCH_HUB_PROFILE]),
    ],
    false,
  ) as SimOptions;
  let report: SimReport;
  try {
    report = await runSimulation(options, { progress, replicas: s.replicas ?? 1, killReplica: s.killReplica === true });
  } finally {
    await database.drop();
  }
  const [ops, assign] = ceiling.runs;
  // Every account goes to min(maxHolders = 3, agents per zone) agents: one round trip each.
  const assignmentTrips = Math.min(3, Math.floor(s.agents / s.zones)) * s.accounts;
  const activationCeilingMs = assign === undefined || assign.throughput === 0 ? undefined : (assignmentTrips * 1000) / assign.throughput;
  const hubRss = report.resources?.afterOperations.rssBytes;
  const replicas = s.replicas ?? 1;
  const rows: ResultRow[] = [
    row("connect all agents", report.connect.allConnectedMs, ceiling.connectMs, "ms", "time", "—"),
    row("connect p99 (dial→welcome)", report.connect.latency.p99, ceiling.connectLatency.p99, "ms", "time", "—"),
    // With several replicas the hub figure is the first replica's, holding its share of the streams only.
    replicas === 1
      ? {
          ...row("RSS with streams open", report.resources?.afterConnect.rssBytes, ceiling.serverRssBytes, "MiB", "time", "—"),
          hub: mib(report.resources?.afterConnect.rssBytes),
          ceiling: mib(ceiling.serverRssBytes),
        }
      : {
          ...row(`RSS of replica 1 with its ${Math.round(s.agents / replicas)} streams open`, report.resources?.afterConnect.rssBytes, undefined, "MiB", "time", "—"),
          hub: mib(report.resources?.afterConnect.rssBytes),
        },
    {
      ...row("hub RSS at start (no agents)", report.resources?.atStart.rssBytes, undefined, "MiB", "time", "—"),
      hub: mib(report.resources?.atStart.rssBytes),
    },
    {
      ...row(`hub RSS, ${s.agents} agents + ${s.accounts} ACTIVE`, hubRss, undefined, "MiB", "time", s.agents >= 10_000 ? "≤ 1536 MiB" : "—"),
      hub: mib(hubRss),
      met: s.agents >= 10_000 && hubRss !== undefined ? hubRss <= 1.5 * GIB : undefined,
    },
    {
      ...row(`activate ${s.accounts} (all ACTIVE via REST)`, report.activation.allActiveMs, activationCeilingMs, "ms", "time", s.accounts >= 50_000 ? "≤ 30000 ms" : "—"),
      met: s.accounts >= 50_000 && report.activation.allActiveMs !== undefined ? report.activation.allActiveMs <= 30_000 : undefined,
    },
    row("activate: caching holders told (agents)", report.activation.allCachingMs, activationCeilingMs, "ms", "time", "—"),
    {
      ...row("operations throughput", report.operations.throughput, ops?.throughput, "/s", "throughput", "≥ 0.50 of ceiling"),
      met: ops === undefined ? undefined : report.operations.throughput >= 0.5 * ops.throughput,
    },
    row("operations p50", report.operations.latency.p50, ops?.latency.p50, "ms", "time", "—"),
    {
      ...row("operations p99", report.operations.latency.p99, ops?.latency.p99, "ms", "time", "≤ ceiling + 2 ms"),
      met: ops === undefined ? undefined : report.operations.latency.p99 <= ops.latency.p99 + 2,
    },
    {
      ...row(`failover p99 (${report.failover.failedOver}/${report.failover.accounts} accounts)`, report.failover.latency.p99, ops?.latency.p99, "ms", "time", "≤ 1000 ms"),
      met: report.failover.accounts === 0 ? undefined : report.failover.latency.p99 <= 1_000 && report.failover.failedOver === report.failover.accounts,
    },
  ];
  if (report.storm !== undefined) {
    const st = report.storm;
    rows.push(
      { ...row(`storm: all ${st.agents} agents welcomed again`, st.allWelcomedMs, ceiling.connectMs, "ms", "time", "—") },
      { ...row("storm: every account ACTIVE again", st.allActiveMs, undefined, "ms", "time", "≤ 30000 ms"), met: st.allActiveMs !== undefined && st.allActiveMs <= 30_000 },
      { ...row("storm: streams ended by the hub", st.endedByHub, 0, "", "time", "0"), ratio: undefined, met: st.endedByHub === 0 },
    );
  }
  if (report.replicaKill !== undefined) {
    const k = report.replicaKill;
    rows.push(
      { ...row(`replica kill -9: its ${k.agents} agents welcomed by the others`, k.allWelcomedMs, undefined, "ms", "time", "—") },
      {
        ...row("replica kill -9: every account ACTIVE with one caching agent", k.healMs, undefined, "ms", "time", `≤ ${LEASE_TTL_MS + 5_000} ms (leaseTtl + 5 s)`),
        met: k.healMs !== undefined && k.healMs <= LEASE_TTL_MS + 5_000,
      },
      { ...row("replica kill -9: streams ended on the surviving replicas", k.survivorStreamsEnded, undefined, "", "time", "0"), met: k.survivorStreamsEnded === 0 },
      { ...row("replica kill -9: accounts two agents cached at once", k.doubleCaching.accounts, undefined, "", "time", "0"), met: k.doubleCaching.accounts === 0 },
    );
  }
  rows.push({
    ...row("accounts two agents cached at once, whole run (agents' side)", report.doubleCaching.accounts, undefined, "", "time", "0"),
    met: report.doubleCaching.accounts === 0,
  });
  for (const [phase, d] of Object.entries(report.eventLoop ?? {})) {
    rows.push({ ...row(`hub event-loop delay p99, ${phase}`, d.p99, undefined, "ms", "time", "≤ 50 ms"), met: d.p99 <= 50 });
  }
  for (const [phase, w] of Object.entries(report.databaseWork ?? {})) {
    // With several replicas, the label says what each one sent (the first takes every REST call).
    const each = report.replicaWork?.[phase];
    const split = (pick: (x: { statementsPerSec: number; notifiesPerSec: number }) => number) => (each === undefined ? "" : ` (replicas ${each.map(pick).join(" + ")})`);
    const from = each === undefined ? "the hub" : `${each.length} replicas`;
    rows.push({ ...row(`PostgreSQL statements/s from ${from}, ${phase}${split((x) => x.statementsPerSec)}`, w.statementsPerSec, undefined, "/s", "throughput", "—") });
    rows.push({ ...row(`NOTIFY/s from ${from}, ${phase}${split((x) => x.notifiesPerSec)}`, w.notifiesPerSec, undefined, "/s", "throughput", "—") });
  }
  return { database: kind, scenario: s, report, ceiling, rows };
}

function mib(b: number | undefined): number | undefined {
  return b === undefined ? undefined : b / 1024 / 1024;
}

function row(metric: string, hub: number | undefined, ceiling: number | undefined, unit: string, kind: "time" | "throughput", target: string): ResultRow {
  return { metric, hub, ceiling, unit, ratio: kind === "time" ? timeRatio(hub, ceiling) : throughputRatio(hub, ceiling), target, met: undefined };
}
