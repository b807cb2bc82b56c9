import { sleep, wallNow } from "./clock.js";
import { createEventTracker } from "./event-tracker.js";
import { createHistogram, summarize } from "./histogram.js";
import { createHubApi, type AccountJson, type HubApi } from "./hub-api.js";
import { startLocalHub, type LocalHub } from "./local-hub.js";
import type { SimOptions } from "./options.js";
import { defaultOperationPayload } from "./ops-driver.js";
import { sampleProc, type ProcSampler } from "./proc-stats.js";
import type { Progress } from "./progress.js";
import type { HubResources, SimReport } from "./report.js";
import { agentSpec, dynamicAccountDefinition, dynamicAccountName, type TopologySpec } from "./topology.js";
import { startFleet, type WorkerFleet } from "./worker-fleet.js";

/** What a run needs from its surroundings. */
export interface SimulationDeps {
  progress: Progress;
  /**
   * Called after the last phase while the agents are still connected (tests read the hub here),
   * with the URLs of the local replicas (none for a remote hub).
   */
  beforeStop?: (replicaUrls: string[]) => Promise<void>;
  /**
   * With `--hub local`: hub processes to start on the one database (design section 11; PostgreSQL).
   * REST goes to the first; simulator worker w dials replica w mod N. Default 1.
   */
  replicas?: number;
  /** With several local replicas: after failover, kill -9 the last one and time the heal (report.replicaKill). */
  killReplica?: boolean;
}

/** A simulator worker or the hub failed; the run cannot go on. */
export class SimulationFailure extends Error {
  override name = "SimulationFailure";
}

/** Agents a worker process dials at once, at most (the hub's listen backlog is 511). */
const DIAL_CONCURRENCY = 200;
/** Length of the quiet window after connect in which the hub's baseline database work is read. */
const QUIET_MS = 5_000;
/** REST requests in flight while creating and activating accounts. */
const REST_PARALLEL = 4;
/** Accounts the failover phase re-reads over REST to confirm what the agents saw. */
const REST_CHECK_SAMPLE = 200;

/** Runs `task` over `items` with at most `parallel` at once. */
async function inParallel<T>(items: T[], parallel: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, items.length) }, async () => {
      while (next < items.length) await task(items[next++]!);
    }),
  );
}

function chunks<T>(items: T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));
}

/** Measures resource use of a local hub between marks. */
function resourceMeter(sampler: ProcSampler | undefined) {
  let lastCpu = sampler?.current()?.cpuMs ?? 0;
  let lastAt = wallNow();
  return (): HubResources => {
    const s = sampler?.current();
    const now = wallNow();
    const cpuMs = s === undefined ? 0 : s.cpuMs - lastCpu;
    const out = { rssBytes: s?.rssBytes ?? 0, cpuMs, cpuPercent: now > lastAt ? (cpuMs * 100) / (now - lastAt) : 0 };
    lastCpu = s?.cpuMs ?? lastCpu;
    lastAt = now;
    return out;
  };
}

/**
 * Runs one simulation: connect the agents, create and activate the accounts, run operations
 * (with churn), kill agents and time the failover, and report. Cleans up everything it started.
 */
export async function runSimulation(opts: SimOptions, deps: SimulationDeps): Promise<SimReport> {
  const { progress } = deps;
  const startedAt = new Date().toISOString();
  const locals: LocalHub[] = [];
  try {
    // One after the other: each migrates the shared schema under an advisory lock anyway.
    for (let i = 0; i < (opts.hub === "local" ? (deps.replicas ?? 1) : 0); i++) {
      locals.push(await startLocalHub({ overrides: opts.hubConfig, logFile: opts.hubLog, profileDir: i === 0 ? opts.hubProfile : undefined, nodeOptions: opts.hubNodeOptions }));
    }
  } catch (err) {
    await Promise.all(locals.map((l) => l.stop()));
    throw err;
  }
  const local = locals[0];
  const url = local?.url ?? (opts.hub as { url: string }).url;
  const agentUrl = local?.agentUrl ?? (opts.hub as { agentUrl: string }).agentUrl;
  const sampler = local === undefined ? undefined : sampleProc(local.pid);
  const api = createHubApi(url);
  const tracker = createEventTracker();
  const errors: Record<string, number> = {};
  const countError = (kind: string, n = 1) => (errors[kind] = (errors[kind] ?? 0) + n);
  let failure: string | undefined;
  const topology: TopologySpec = {
    agents: opts.agents,
    zones: opts.zones,
    staticPerZone: opts.staticPerZone,
    dynamicAccounts: opts.accounts,
    unpinnedFraction: opts.unpinnedFraction,
    prefix: opts.prefix,
  };

  /** Polls `done` every 100 ms until it holds (true) or the phase times out (false). */
  const waitFor = async (done: () => boolean, tick: () => void, timeoutMs = opts.phaseTimeoutMs): Promise<boolean> => {
    const deadline = wallNow() + timeoutMs;
    for (;;) {
      if (failure !== undefined) throw new SimulationFailure(failure);
      tick();
      if (done()) return true;
      if (wallNow() >= deadline) return false;
      await sleep(100);
    }
  };

  try {
    const meter = resourceMeter(sampler);
    const atStart = meter();
    const eventLoop: Record<string, { p50: number; p99: number; max: number }> = {};
    const databaseWork: Record<string, { statementsPerSec: number; notifiesPerSec: number }> = {};
    const replicaWork: NonNullable<SimReport["replicaWork"]> = {};
    // Each phase's window, for the double-caching figure per phase.
    const windows: { phase: string; from: number; to: number }[] = [];
    const runFrom = wallNow();
    let phaseFrom = runFrom;
    const loopMark = async (phase: string) => {
      windows.push({ phase, from: phaseFrom, to: wallNow() });
      phaseFrom = wallNow();
      const live = locals.filter((l) => l.alive());
      if (live.length === 0) return;
      const marks = await Promise.all(live.map((l) => l.loopDelay()));
      const perSec = (n: number, ms: number) => (ms === 0 ? 0 : Math.round((n * 1000) / ms));
      const each = marks.map(({ work, p99 }) => ({ statementsPerSec: perSec(work.statements, work.ms), notifiesPerSec: perSec(work.notifies, work.ms), eventLoopP99: p99 }));
      const worst = marks.reduce((a, b) => (b.p99 > a.p99 ? b : a));
      eventLoop[phase] = { p50: worst.p50, p99: worst.p99, max: Math.max(...marks.map((m) => m.max)) };
      databaseWork[phase] = { statementsPerSec: each.reduce((n, w) => n + w.statementsPerSec, 0), notifiesPerSec: each.reduce((n, w) => n + w.notifiesPerSec, 0) };
      if (locals.length > 1) replicaWork[phase] = locals.map((l) => (l.alive() ? each[live.indexOf(l)]! : { statementsPerSec: 0, notifiesPerSec: 0, eventLoopP99: 0 }));
    };
    await loopMark("idle");
    // Connect time counts from the first worker dialing, not from forking (tsx start-up).
    let connectStart = Number.POSITIVE_INFINITY;
    const fleet = startFleet({
      workers: opts.workers,
      pool: {
        targets: locals.length > 1 ? locals.map((l) => l.agentUrl) : [agentUrl],
        topology,
        reach: opts.reach,
        opLatencyMs: opts.opLatencyMs,
        heartbeatMs: opts.heartbeatMs,
        reconnectDelayMs: 1_000,
        dialConcurrency: DIAL_CONCURRENCY,
      },
      onDialing: (at) => (connectStart = Math.min(connectStart, at)),
      onEvents: (batch) => tracker.add(batch),
      onFailure: (message) => (failure ??= message),
    });
    try {
      // 1. Connect.
      const connectPhase = progress.phase("connect", opts.agents);
      const allConnected = await waitFor(
        () => tracker.welcomedAgents() >= opts.agents,
        () => connectPhase.update(tracker.welcomedAgents()),
      );
      const allConnectedMs = allConnected ? tracker.lastFirstWelcomeAt() - connectStart : undefined;
      connectPhase.done(`${tracker.welcomedAgents()}/${opts.agents} agents in ${((tracker.lastFirstWelcomeAt() - connectStart) / 1000).toFixed(1)} s`);
      const afterConnect = meter();
      await loopMark("connect");
      // A quiet window with every agent connected: the per-replica baseline (lease, heartbeats, sweeps).
      if (local !== undefined) {
        await sleep(QUIET_MS);
        await loopMark("quiet");
      }

      // 2. Create and activate.
      const activation = await activate(opts, topology, api, progress, tracker, waitFor, countError);
      const afterActivation = meter();
      await loopMark("activate");

      // 3. Operations and churn.
      const operations = await operate(opts, topology, fleet, url, activation.activeNames, progress, tracker, waitFor, countError);
      const afterOperations = meter();
      await loopMark("operate");

      // 4. Failover.
      const failover = await failOver(opts, topology, fleet, api, progress, tracker, waitFor, countError);
      await loopMark("failover");

      // 5. A replica's death.
      const replicaKill = deps.killReplica === true && locals.length > 1 ? await killReplica(locals, api, progress, tracker, waitFor, activation.activeNames) : undefined;
      if (replicaKill !== undefined) await loopMark("replicaKill");

      // 6. Reconnect storm.
      const storm = opts.storm ? await reconnectStorm(opts, topology, fleet, api, progress, tracker, waitFor, new Set(failover.killed), activation.activeNames.length) : undefined;
      if (storm !== undefined) await loopMark("storm");

      await deps.beforeStop?.(locals.filter((l) => l.alive()).map((l) => l.url));
      for (const [k, n] of Object.entries(tracker.errors())) countError(k, n);
      return {
        startedAt,
        options: { ...opts, hub: opts.hub === "local" ? "local" : opts.hub.url },
        hub: { local: local !== undefined, url, agentUrl },
        connect: {
          agents: opts.agents,
          connected: tracker.welcomedAgents(),
          allConnectedMs,
          latency: summarize(tracker.firstConnectLatency()),
        },
        activation: {
          accounts: opts.accounts,
          createMs: activation.createMs,
          allActiveMs: activation.allActiveMs,
          allCachingMs: activation.allCachingMs,
          byStatus: activation.byStatus,
        },
        operations,
        failover,
        storm,
        replicaKill,
        doubleCaching: {
          ...tracker.cachingOverlaps(runFrom, wallNow()),
          byPhase: Object.fromEntries(windows.map((w) => [w.phase, tracker.cachingOverlaps(w.from, w.to)])),
          examples: tracker.overlapExamples(runFrom, wallNow(), 5),
        },
        eventLoop: local === undefined ? undefined : eventLoop,
        databaseWork: local === undefined ? undefined : databaseWork,
        replicaWork: locals.length > 1 ? replicaWork : undefined,
        errors,
        resources: sampler === undefined ? undefined : { atStart, afterConnect, afterActivation, afterOperations, peakRssBytes: sampler.peakRssBytes() },
      };
    } finally {
      await fleet.stop();
    }
  } finally {
    api.close();
    sampler?.stop();
    await Promise.all(locals.map((l) => l.stop()));
  }
}

/**
 * Every surviving agent drops its connection at once and redials after a random 0–1 s: times
 * until all are welcomed again and every account is ACTIVE again, and counts streams the hub
 * ended after the redial.
 */
async function reconnectStorm(
  opts: SimOptions,
  topology: TopologySpec,
  fleet: ReturnType<typeof startFleet>,
  api: HubApi,
  progress: Progress,
  tracker: ReturnType<typeof createEventTracker>,
  waitFor: WaitFor,
  killed: ReadonlySet<string>,
  accounts: number,
): Promise<NonNullable<SimReport["storm"]>> {
  const ids = Array.from({ length: opts.agents }, (_, i) => agentSpec(topology, i).agentId).filter((id) => !killed.has(id));
  const phase = progress.phase("storm", ids.length);
  const endedBefore = hubEnded(tracker.errors());
  const start = wallNow();
  for (const id of ids) fleet.bounce(id, Math.floor(Math.random() * 1_000));
  const welcomed = await waitFor(
    () => tracker.welcomesSince(start) >= ids.length,
    () => phase.update(tracker.welcomesSince(start)),
  );
  const allWelcomedMs = welcomed ? wallNow() - start : undefined;
  let allActiveMs: number | undefined;
  let polling: Promise<void> | undefined;
  await waitFor(
    () => allActiveMs !== undefined,
    () => {
      polling ??= api
        .listAll()
        .then((list) => {
          const active = list.filter((a) => a.name.startsWith(`${opts.prefix}dyn-`) && a.status === "ACTIVE").length;
          if (active >= accounts && allActiveMs === undefined) allActiveMs = wallNow() - start;
        })
        .catch(() => undefined)
        .finally(() => (polling = undefined));
    },
  );
  await polling;
  // A bounced stream is aborted by the agent itself and not counted: every stream error is the hub's.
  const endedByHub = hubEnded(tracker.errors()) - endedBefore;
  phase.done(`${ids.length} agents: all welcomed ${allWelcomedMs ?? "—"} ms, all ACTIVE ${allActiveMs ?? "—"} ms, ${endedByHub} streams ended by the hub`);
  return { agents: ids.length, allWelcomedMs, allActiveMs, endedByHub };
}

/**
 * Kills the last replica with -9: its agents' streams die, they redial the next replica, and the
 * survivors take over its agents once its lease runs out (design section 11). Times until every
 * account is ACTIVE and cached by exactly one agent, counted from the agents' side as well as
 * REST's, and checks the two promises of a replica's death: no stream on a survivor ends, and no
 * two agents cache one account at the same moment.
 */
async function killReplica(
  locals: LocalHub[],
  api: HubApi,
  progress: Progress,
  tracker: ReturnType<typeof createEventTracker>,
  waitFor: WaitFor,
  names: string[],
): Promise<NonNullable<SimReport["replicaKill"]>> {
  const victim = locals.length - 1;
  const survivors = new Set(locals.map((_, i) => i).filter((i) => i !== victim));
  const phase = progress.phase("replica-kill", names.length);
  const at = wallNow();
  await locals[victim]!.kill();
  // The victim's streams end under their agents within moments of the kill (the kernel resets the
  // sockets); their events arrive over the next flushes, so the count is read on every tick.
  const dead = new Set([victim]);
  let moved = 0;
  let healMs: number | undefined;
  let allWelcomedMs: number | undefined;
  let polling: Promise<void> | undefined;
  let healthy = 0;
  const poll = async () => {
    try {
      const listed = new Map((await api.listAll()).map((a) => [a.name, a]));
      healthy = names.filter((n) => {
        const a = listed.get(n);
        return a?.status === "ACTIVE" && a.agents.filter((h) => h.caching).length === 1 && tracker.cachers(n) === 1;
      }).length;
      if (healthy === names.length) healMs ??= wallNow() - at;
    } catch {
      // The REST replica is a survivor; a failed poll is retried on the next tick.
    } finally {
      polling = undefined;
    }
  };
  await waitFor(
    () => healMs !== undefined && allWelcomedMs !== undefined,
    () => {
      moved = tracker.streamsEndedSince(at, dead);
      if (allWelcomedMs === undefined && (moved > 0 || healMs !== undefined) && tracker.welcomesSince(at) >= moved) allWelcomedMs = wallNow() - at;
      polling ??= poll();
      phase.update(healthy);
    },
  );
  await polling;
  const survivorStreamsEnded = tracker.streamsEndedSince(at, survivors);
  const doubleCaching = tracker.cachingOverlaps(at, wallNow());
  phase.done(
    `${moved} agents moved: all welcomed ${allWelcomedMs?.toFixed(0) ?? "—"} ms, healed ${healMs?.toFixed(0) ?? "—"} ms after the kill (${healthy}/${names.length} accounts); ${survivorStreamsEnded} streams ended on survivors; ${doubleCaching.accounts} accounts cached twice`,
  );
  return { agents: moved, allWelcomedMs, healMs, survivorStreamsEnded, doubleCaching };
}

function hubEnded(errors: Record<string, number>): number {
  let n = 0;
  for (const [kind, count] of Object.entries(errors)) if (kind.startsWith("stream:")) n += count;
  return n;
}

type WaitFor = (done: () => boolean, tick: () => void, timeoutMs?: number) => Promise<boolean>;
type CountError = (kind: string, n?: number) => void;

async function activate(
  opts: SimOptions,
  topology: TopologySpec,
  api: HubApi,
  progress: Progress,
  tracker: ReturnType<typeof createEventTracker>,
  waitFor: WaitFor,
  countError: CountError,
) {
  const names = Array.from({ length: opts.accounts }, (_, k) => dynamicAccountName(topology, k));
  const createPhase = progress.phase("create", opts.accounts);
  const createStart = wallNow();
  let created = 0;
  await inParallel(chunks([...names.keys()], opts.batch), REST_PARALLEL, async (ks) => {
    const conflicts = await api.createAccounts(ks.map((k) => dynamicAccountDefinition(topology, k)));
    if (conflicts.length > 0) countError("create:already-exists", conflicts.length);
    created += ks.length;
    createPhase.update(created);
  });
  const createMs = wallNow() - createStart;
  createPhase.done(`${opts.accounts} accounts in ${(createMs / 1000).toFixed(1)} s`);

  const activatePhase = progress.phase("activate", opts.accounts);
  const activateStart = wallNow();
  await inParallel(chunks(names, opts.batch), REST_PARALLEL, (batch) => api.setState(batch, "ACTIVE"));
  const ours = (a: AccountJson) => a.name.startsWith(`${opts.prefix}dyn-`);
  let listed: AccountJson[] = [];
  let active = 0;
  let allActiveMs: number | undefined;
  let polling: Promise<void> | undefined;
  const poll = async () => {
    try {
      listed = (await api.listAll()).filter(ours);
      active = listed.filter((a) => a.status === "ACTIVE").length;
      if (active >= opts.accounts && allActiveMs === undefined) allActiveMs = wallNow() - activateStart;
    } catch (err) {
      countError(`list:${err instanceof Error ? err.name : "error"}`);
    } finally {
      polling = undefined;
    }
  };
  // Polls back to back (each poll pages through the whole list), so the figure's granularity
  // is one list pass; the agent-side figure below has none.
  await waitFor(
    () => allActiveMs !== undefined,
    () => {
      polling ??= poll();
      activatePhase.update(active);
    },
  );
  await polling;
  const gains = names.map((n) => tracker.lastCachingGain(n)?.at);
  const allCachingMs = gains.every((g) => g !== undefined) && gains.length > 0 ? Math.max(...(gains as number[])) - activateStart : undefined;
  const byStatus: Record<string, number> = {};
  for (const a of listed) byStatus[a.status] = (byStatus[a.status] ?? 0) + 1;
  activatePhase.done(allActiveMs === undefined ? `${active}/${opts.accounts} ACTIVE when the phase timed out` : `all ACTIVE after ${(allActiveMs / 1000).toFixed(2)} s`);
  const activeNames = listed.filter((a) => a.status === "ACTIVE").map((a) => a.name);
  return { createMs, allActiveMs, allCachingMs, byStatus, activeNames };
}

async function operate(
  opts: SimOptions,
  topology: TopologySpec,
  fleet: WorkerFleet,
  url: string,
  accounts: string[],
  progress: Progress,
  tracker: ReturnType<typeof createEventTracker>,
  waitFor: WaitFor,
  countError: CountError,
): Promise<SimReport["operations"]> {
  const runOps = opts.opsRate > 0 && accounts.length > 0;
  if (!runOps && opts.churnPerSec === 0) {
    return { sent: 0, ok: 0, throughput: 0, latency: summarize(createHistogram()), servedByAgents: 0, churned: 0, reconnects: tracker.reconnects() };
  }
  const phase = progress.phase("operate", Math.round(opts.durationMs / 1000));
  const start = wallNow();
  const servedBefore = tracker.operationsServed();
  let churned = 0;
  const churn =
    opts.churnPerSec > 0
      ? setInterval(() => {
          churned += 1;
          fleet.bounce(agentSpec(topology, Math.floor(Math.random() * opts.agents)).agentId, opts.churnDowntimeMs);
        }, 1000 / opts.churnPerSec)
      : undefined;
  const ticker = setInterval(() => phase.update(Math.round((wallNow() - start) / 1000), `served ${tracker.operationsServed() - servedBefore}`), 500);
  try {
    const result = runOps
      ? await fleet.runOps({
          restUrl: url,
          accounts,
          ratePerSec: opts.opsRate,
          concurrency: opts.opsConcurrency,
          durationMs: opts.durationMs,
          kind: "deploy",
          payload: defaultOperationPayload(),
        })
      : await sleep(opts.durationMs).then(() => undefined);
    clearInterval(churn);
    if (churned > 0) {
      // Every bounced agent comes back on its own; wait for the redials before measuring failover.
      await waitFor(() => tracker.welcomesSince(start) >= churned, () => {}, opts.churnDowntimeMs + opts.phaseTimeoutMs);
    }
    const latency = createHistogram(result?.latency);
    for (const [k, n] of Object.entries(result?.errors ?? {})) countError(k, n);
    const ok = result?.ok ?? 0;
    const out = {
      sent: result?.calls ?? 0,
      ok,
      throughput: result === undefined || result.elapsedMs === 0 ? 0 : (ok * 1000) / result.elapsedMs,
      latency: summarize(latency),
      servedByAgents: tracker.operationsServed() - servedBefore,
      churned,
      reconnects: tracker.reconnects(),
    };
    phase.done(`${out.ok}/${out.sent} operations ok, ${out.throughput.toFixed(0)}/s, p99 ${out.latency.p99} ms; ${churned} agents churned`);
    return out;
  } finally {
    clearInterval(churn);
    clearInterval(ticker);
  }
}

/**
 * Picks `k` agents that each leave another agent in their zone (agent i and i+zones share one),
 * spread over the zones, so every account they cache can fail over inside its zone.
 */
export function pickVictims(topology: TopologySpec, k: number): number[] {
  const candidates = Math.max(0, topology.agents - topology.zones);
  const n = Math.min(k, candidates);
  const step = candidates / Math.max(1, n);
  return Array.from({ length: n }, (_, i) => Math.floor(i * step));
}

async function failOver(
  opts: SimOptions,
  topology: TopologySpec,
  fleet: WorkerFleet,
  api: HubApi,
  progress: Progress,
  tracker: ReturnType<typeof createEventTracker>,
  waitFor: WaitFor,
  countError: CountError,
): Promise<SimReport["failover"]> {
  const victims = pickVictims(topology, opts.kill).map((i) => agentSpec(topology, i).agentId);
  if (victims.length === 0) return { killed: [], accounts: 0, failedOver: 0, latency: summarize(createHistogram()), restChecked: 0, restConfirmed: 0 };
  const dead = new Set(victims);
  const killed = await fleet.kill(victims);
  const expected = new Map<string, number>();
  for (const k of killed) for (const account of k.cached) expected.set(account, k.at);
  const phase = progress.phase("failover", expected.size);
  const movedAt = (account: string, killAt: number) => {
    const g = tracker.lastCachingGain(account);
    return g !== undefined && g.at > killAt && !dead.has(g.agentId) ? g.at : undefined;
  };
  const countMoved = () => [...expected].filter(([a, at]) => movedAt(a, at) !== undefined).length;
  await waitFor(
    () => countMoved() >= expected.size,
    () => phase.update(countMoved()),
  );
  const latency = createHistogram();
  for (const [a, at] of expected) {
    const m = movedAt(a, at);
    if (m !== undefined) latency.record(m - at);
  }
  // Confirm over REST what the agents saw: a live caching holder, none of the killed agents.
  const sample = [...expected.keys()].slice(0, REST_CHECK_SAMPLE);
  let confirmed = 0;
  await inParallel(sample, 8, async (name) => {
    try {
      const a = await api.getAccount(name);
      const caching = a?.agents.filter((h) => h.caching) ?? [];
      if (caching.length === 1 && !dead.has(caching[0]!.agentId)) confirmed += 1;
    } catch (err) {
      countError(`get:${err instanceof Error ? err.name : "error"}`);
    }
  });
  const summary = summarize(latency);
  phase.done(`${latency.count()}/${expected.size} accounts re-cached after ${victims.length} kills; p99 ${summary.p99} ms; REST ${confirmed}/${sample.length}`);
  return { killed: victims, accounts: expected.size, failedOver: latency.count(), latency: summary, restChecked: sample.length, restConfirmed: confirmed };
}
