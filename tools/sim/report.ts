import type { OverlapExample } from "./event-tracker.js";
import type { LatencySummary } from "./histogram.js";

/** Resource use of a local hub at a moment of the run. */
export interface HubResources {
  rssBytes: number;
  /** CPU time used during the phase, and as a share of one core. */
  cpuMs: number;
  cpuPercent: number;
}

/** The report of one simulation run; `--json` writes exactly this. */
export interface SimReport {
  startedAt: string;
  options: Record<string, unknown>;
  hub: { local: boolean; url: string; agentUrl: string };
  connect: {
    agents: number;
    connected: number;
    /** From the first worker dialing to the last agent's first welcome. */
    allConnectedMs: number | undefined;
    latency: LatencySummary;
  };
  activation: {
    accounts: number;
    createMs: number;
    /** From the first PATCH to every account ACTIVE in GET /armory/accounts (polled). */
    allActiveMs: number | undefined;
    /** From the first PATCH to the last account's caching holder being told (agent side). */
    allCachingMs: number | undefined;
    /** Statuses of the dynamic accounts when the phase ended. */
    byStatus: Record<string, number>;
  };
  operations: {
    sent: number;
    ok: number;
    /** Successful operations per second over the phase. */
    throughput: number;
    latency: LatencySummary;
    /** Operations the agents answered (includes answers that arrived after a client gave up). */
    servedByAgents: number;
    churned: number;
    reconnects: number;
  };
  failover: {
    killed: string[];
    /** Accounts the killed agents cached at the moment they died. */
    accounts: number;
    /** Accounts that got a new caching holder among the surviving agents. */
    failedOver: number;
    /** Kill → SaveAccounts(caching=true) received by a surviving agent. */
    latency: LatencySummary;
    /** Accounts checked over REST afterwards, and how many show a live caching holder. */
    restChecked: number;
    restConfirmed: number;
  };
  /** Reconnect storm (--storm): every agent dropped at once and redialed within a second. */
  storm:
    | {
        agents: number;
        /** Drop → every agent welcomed again. */
        allWelcomedMs: number | undefined;
        /** Drop → every dynamic account ACTIVE again in GET /armory/accounts (polled). */
        allActiveMs: number | undefined;
        /** Streams the hub ended (any error status agents saw) after they were welcomed again. */
        endedByHub: number;
      }
    | undefined;
  /**
   * Several local replicas with `killReplica`: the last replica killed with -9 after failover;
   * its agents redial the others (sim-agent.ts).
   */
  replicaKill:
    | {
        /** Agents whose stream died with the replica. */
        agents: number;
        /** Kill → all of them welcomed by another replica. */
        allWelcomedMs: number | undefined;
        /** Kill → every dynamic account ACTIVE (REST) and cached by exactly one live agent (the agents' side). */
        healMs: number | undefined;
        /** Streams on the surviving replicas that ended under their agents after the kill. */
        survivorStreamsEnded: number;
        /** Accounts two agents cached at the same moment after the kill, and the longest such moment. */
        doubleCaching: { accounts: number; longestMs: number };
      }
    | undefined;
  /** Accounts two agents cached at the same moment at any time in the run (the agents' side, design section 11), and per phase. */
  doubleCaching: {
    accounts: number;
    longestMs: number;
    byPhase: Record<string, { accounts: number; longestMs: number }>;
    /** The accounts with the longest overlaps and their role changes (ms after the run's start). */
    examples: OverlapExample[];
  };
  /** Local hub only: event-loop delay per phase (perf_hooks.monitorEventLoopDelay), ms. */
  eventLoop: Record<string, { p50: number; p99: number; max: number }> | undefined;
  /** Local hub only: statements (and NOTIFYs) the hub sent to PostgreSQL per second, per phase. */
  databaseWork: Record<string, { statementsPerSec: number; notifiesPerSec: number }> | undefined;
  /**
   * Several local replicas only: each replica's share per phase (databaseWork is their sum and
   * eventLoop the worst replica's). The first replica takes every REST call.
   */
  replicaWork: Record<string, { statementsPerSec: number; notifiesPerSec: number; eventLoopP99: number }[]> | undefined;
  /** Errors by kind: `stream:<code> <message>` from agents, `http:<status>`/`outcome:<x>` from operations, REST phases by name. */
  errors: Record<string, number>;
  /** Local hub only. */
  resources:
    | {
        /** Before any agent connected: the hub's baseline (PGlite's heap is most of it). */
        atStart: HubResources;
        afterConnect: HubResources;
        afterActivation: HubResources;
        afterOperations: HubResources;
        peakRssBytes: number;
      }
    | undefined;
}

const ms = (x: number | undefined) => (x === undefined ? "—" : x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${x.toFixed(x < 10 ? 2 : 0)} ms`);
const mib = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MiB`;
const lat = (l: LatencySummary) => `p50 ${ms(l.p50)} · p95 ${ms(l.p95)} · p99 ${ms(l.p99)} · max ${ms(l.max)} (n=${l.count})`;

/** The report as a few aligned lines for a terminal. */
export function formatReport(r: SimReport): string {
  const rows: [string, string][] = [
    ["hub", `${r.hub.local ? "local" : "remote"} ${r.hub.url} (agents → ${r.hub.agentUrl})`],
    ["agents connected", `${r.connect.connected}/${r.connect.agents} in ${ms(r.connect.allConnectedMs)}; dial→welcome ${lat(r.connect.latency)}`],
    ["accounts created", `${r.activation.accounts} in ${ms(r.activation.createMs)}`],
    ["all ACTIVE", `${ms(r.activation.allActiveMs)} (REST); caching holders told in ${ms(r.activation.allCachingMs)}`],
    ["statuses", Object.entries(r.activation.byStatus).map(([s, n]) => `${s} ${n}`).join(", ") || "—"],
    ["operations", `${r.operations.ok}/${r.operations.sent} ok, ${r.operations.throughput.toFixed(0)}/s; ${lat(r.operations.latency)}`],
    ["churn", `${r.operations.churned} agents bounced, ${r.operations.reconnects} redials`],
    [
      "failover",
      `${r.failover.killed.length} killed, ${r.failover.failedOver}/${r.failover.accounts} accounts re-cached; ${lat(r.failover.latency)}; REST ${r.failover.restConfirmed}/${r.failover.restChecked} confirmed`,
    ],
    ["errors", Object.entries(r.errors).map(([k, n]) => `${k} ${n}`).join(", ") || "none"],
  ];
  if (r.storm !== undefined) {
    const st = r.storm;
    rows.push(["storm", `${st.agents} agents dropped: all welcomed in ${st.allWelcomedMs ?? "—"} ms, all ACTIVE in ${st.allActiveMs ?? "—"} ms; ${st.endedByHub} streams ended by the hub`]);
  }
  if (r.replicaKill !== undefined) {
    const k = r.replicaKill;
    rows.push([
      "replica kill -9",
      `${k.agents} agents moved: all welcomed in ${ms(k.allWelcomedMs)}, healed in ${ms(k.healMs)}; ${k.survivorStreamsEnded} streams ended on survivors; ${k.doubleCaching.accounts} accounts cached twice (longest ${ms(k.doubleCaching.longestMs)})`,
    ]);
  }
  const phases = Object.entries(r.doubleCaching.byPhase).filter(([, d]) => d.accounts > 0);
  rows.push([
    "double caching",
    `${r.doubleCaching.accounts} accounts cached by two agents at once (longest ${ms(r.doubleCaching.longestMs)})${phases.length === 0 ? "" : `: ${phases.map(([p, d]) => `${p} ${d.accounts}`).join(", ")}`}`,
  ]);
  if (r.eventLoop !== undefined) {
    rows.push(["event-loop p99", Object.entries(r.eventLoop).map(([k, v]) => `${k} ${v.p99} ms (max ${v.max})`).join(" · ")]);
  }
  if (r.replicaWork !== undefined) {
    const each = (v: { statementsPerSec: number; notifiesPerSec: number }[]) => v.map((w) => `${w.statementsPerSec}/${w.notifiesPerSec}`).join(" + ");
    rows.push(["per replica", `stmt/NOTIFY per s: ${Object.entries(r.replicaWork).map(([k, v]) => `${k} ${each(v)}`).join(" · ")}`]);
  }
  if (r.databaseWork !== undefined) {
    rows.push(["PostgreSQL work", Object.entries(r.databaseWork).map(([k, v]) => `${k} ${v.statementsPerSec} stmt/s, ${v.notifiesPerSec} NOTIFY/s`).join(" · ")]);
  }
  if (r.resources !== undefined) {
    const res = r.resources;
    const fmt = (h: HubResources) => `RSS ${mib(h.rssBytes)}, CPU ${h.cpuPercent.toFixed(0)}%`;
    rows.push(["hub resources", `connected: ${fmt(res.afterConnect)}; activated: ${fmt(res.afterActivation)}; operations: ${fmt(res.afterOperations)}; peak RSS ${mib(res.peakRssBytes)}`]);
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n");
}
