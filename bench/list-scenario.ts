import { wallNow } from "../tools/sim/clock.js";
import { createHistogram, summarize, type LatencySummary } from "../tools/sim/histogram.js";
import { createHubApi, type HubApi } from "../tools/sim/hub-api.js";
import { startLocalHub } from "../tools/sim/local-hub.js";
import { benchDatabase, type BenchDatabase } from "./bench-database.js";
import type { Progress } from "../tools/sim/progress.js";
import { readProcStats } from "../tools/sim/proc-stats.js";
import { dynamicAccountDefinition, dynamicAccountName, zoneName, type TopologySpec } from "../tools/sim/topology.js";
import { timeRatio, type ResultRow } from "./table.js";

/** What the list scenario writes to bench/results. */
export interface ListResult {
  /** The database the hub ran on. */
  database: "postgres" | "pglite";
  accounts: number;
  createMs: number;
  rest: LatencySummary;
  sql: LatencySummary;
  hubRssBytes: number;
  /** Filtered pages (design section 16) by filter: REST and the raw SQL of the same filter. */
  filters: { filter: string; rest: LatencySummary; sql: LatencySummary }[];
  eventLoop: { p50: number; p99: number; max: number };
  rows: ResultRow[];
}

/** Pages read per measurement; random pages, so caches do not make one page look cheap. */
const SAMPLES = 300;
const SQL_OFFSETS = 20;

/**
 * The page query a lean implementation of GET /armory/accounts runs: one page by name in byte
 * order (the primary key's order), then the page's holders and the trigger-kept total. The holders are
 * joined after LIMIT/OFFSET so they are read for the 100 rows of the page only.
 */
export function rawListQuery(offset: number, limit: number, where = ""): string {
  // A filtered total is counted; the unfiltered one is the trigger-kept counter.
  const total = where === "" ? "SELECT total FROM kubesvc_account_count WHERE id = 1" : `SELECT count(*) AS total FROM kubesvc_accounts WHERE ${where}`;
  return `SELECT p.*, coalesce(h.agents, '[]') AS agents, c.total
FROM (SELECT name, type, source, status, zone_id, definition, last_assignment_msg
      FROM kubesvc_accounts ${where === "" ? "" : `WHERE ${where} `}ORDER BY name LIMIT ${limit} OFFSET ${offset}) p
LEFT JOIN LATERAL (SELECT json_agg(json_build_object('agentId', s.agent_id, 'caching', s.caching)) AS agents
                   FROM kubesvc_assignments s WHERE s.account_name = p.name) h ON true
CROSS JOIN (${total}) c`;
}

/** A filter of the list: its query string, the same condition in SQL, and how many it selects. */
interface FilterCase {
  query: string;
  where: string;
  matches: number;
}

/** FAILED accounts the filter case marks, as the hub would after failed rounds. */
const FAILED_SHARE = 0.01;

/**
 * Random pages (limit 100) of three filtered sets, each timed against the raw SQL of the same
 * filter: one zone (~0.8 % of the accounts), the FAILED ones (1 %), a name prefix (1 %).
 */
async function measureFilters(database: BenchDatabase, api: HubApi, accounts: number, topology: TopologySpec) {
  const failed = Math.round(accounts * FAILED_SHARE);
  // The hub has no agents here, so no account can fail on its own: mark them as the hub would.
  await database.timeSql(`UPDATE kubesvc_accounts SET status = 'FAILED' WHERE name IN (SELECT name FROM kubesvc_accounts ORDER BY md5(name) LIMIT ${failed})`, 1);
  await database.timeSql("ANALYZE kubesvc_accounts", 1);
  const zone = () => zoneName(topology, Math.floor(Math.random() * topology.zones));
  // Names are zero-padded numbers, so dropping the last 3 digits of account k·1000 selects 1000 of them.
  const prefixStart = () => Math.floor(Math.random() * Math.floor(accounts / 1000)) * 1000;
  const cases: { filter: string; next(): FilterCase }[] = [
    {
      filter: "zoneId",
      next: () => {
        const z = zone();
        return { query: `zoneId=${z}`, where: `zone_id = '${z}'`, matches: 0 };
      },
    },
    { filter: "status=FAILED", next: () => ({ query: "status=FAILED", where: "status IN ('FAILED')", matches: failed }) },
    {
      filter: "namePrefix",
      next: () => {
        const p = dynamicAccountName(topology, prefixStart()).slice(0, -3);
        return { query: `namePrefix=${p}`, where: `name >= '${p}' AND name < '${p.slice(0, -1)}${String.fromCharCode(p.charCodeAt(p.length - 1) + 1)}'`, matches: 1000 };
      },
    },
  ];
  const results: ListResult["filters"] = [];
  for (const c of cases) {
    const rest = createHistogram();
    const raw = createHistogram();
    for (let i = 0; i < SAMPLES / 3; i++) {
      const f = c.next();
      // Untimed: the filtered total, to pick a random page of the set.
      const first = await api.listPage(1, 100, f.query);
      const page = 1 + Math.floor(Math.random() * Math.max(1, Math.ceil(first.total / 100)));
      if (f.matches > 0 && first.total !== f.matches) throw new Error(`filter ${f.query}: total ${first.total}, expected ${f.matches}`);
      const t = wallNow();
      await api.listPage(page, 100, f.query);
      rest.record(wallNow() - t);
      raw.merge((await database.timeSql(rawListQuery((page - 1) * 100, 100, f.where), 1)).latency);
    }
    results.push({ filter: c.filter, rest: summarize(rest), sql: summarize(raw) });
  }
  return results;
}

/** Fills a local hub with `accounts` accounts, then times GET ?limit=100 against the raw query, unfiltered and filtered. */
export async function runListScenario(accounts: number, progress: Progress): Promise<ListResult> {
  const kind = "postgres";
  const database = benchDatabase(kind);
  const hub = await startLocalHub({ overrides: { "log.level": "error", ...database.overrides }, logFile: undefined });
  const api = createHubApi(hub.url, 4);
  try {
    const topology: TopologySpec = { agents: 1, zones: 100, staticPerZone: 0, dynamicAccounts: accounts, unpinnedFraction: 0.2, prefix: "" };
    const create = progress.phase("create", accounts);
    const t0 = wallNow();
    const batch = 1000;
    for (let k = 0; k < accounts; k += batch) {
      const defs = Array.from({ length: Math.min(batch, accounts - k) }, (_, i) => dynamicAccountDefinition(topology, k + i));
      await api.createAccounts(defs);
      create.update(k + defs.length);
    }
    const createMs = wallNow() - t0;
    create.done(`${accounts} accounts in ${(createMs / 1000).toFixed(1)} s`);

    const pages = Math.ceil(accounts / 100);
    const page = () => 1 + Math.floor(Math.random() * pages);
    // Warm both paths the same way before timing.
    for (let i = 0; i < 20; i++) await api.listPage(page(), 100);
    await database.timeSql(rawListQuery(0, 100), 20);

    const list = progress.phase("list", SAMPLES);
    const rest = createHistogram();
    for (let i = 0; i < SAMPLES; i++) {
      const t = wallNow();
      const body = await api.listPage(page(), 100);
      rest.record(wallNow() - t);
      if (body.items.length !== 100 || body.total !== accounts) throw new Error(`unexpected page: ${body.items.length} items, total ${body.total}`);
      list.update(i + 1);
    }
    list.done(`REST p99 ${summarize(rest).p99} ms`);
    const sql = createHistogram();
    for (let i = 0; i < SQL_OFFSETS; i++) {
      const r = await database.timeSql(rawListQuery((page() - 1) * 100, 100), SAMPLES / SQL_OFFSETS);
      sql.merge(r.latency);
    }
    const restSummary = summarize(rest);
    const sqlSummary = summarize(sql);
    const filtering = progress.phase("filters", 3);
    const filters = await measureFilters(database, api, accounts, topology);
    filtering.done(filters.map((f) => `${f.filter} p99 ${f.rest.p99} ms`).join(", "));
    const rss = readProcStats(hub.pid)?.rssBytes ?? 0;
    const loop = await hub.loopDelay();
    const rows: ResultRow[] = [
      { metric: `GET /armory/accounts?limit=100 p50 (${accounts} accounts)`, hub: restSummary.p50, ceiling: sqlSummary.p50, unit: "ms", ratio: timeRatio(restSummary.p50, sqlSummary.p50), target: "—", met: undefined },
      {
        metric: `GET /armory/accounts?limit=100 p99 (${accounts} accounts)`,
        hub: restSummary.p99,
        ceiling: sqlSummary.p99,
        unit: "ms",
        ratio: timeRatio(restSummary.p99, sqlSummary.p99),
        target: "≤ 25 ms",
        met: restSummary.p99 <= 25,
      },
      ...filters.map(({ filter, rest: r, sql: q }): ResultRow => ({
        metric: `GET /armory/accounts?${filter}&limit=100 p99`,
        hub: r.p99,
        ceiling: q.p99,
        unit: "ms",
        ratio: timeRatio(r.p99, q.p99),
        target: "≤ 25 ms",
        met: r.p99 <= 25,
      })),
      { metric: `create ${accounts} accounts (POST, 1000 per request)`, hub: createMs, ceiling: undefined, unit: "ms", ratio: undefined, target: "—", met: undefined },
      { metric: "hub event-loop delay p99 (whole run)", hub: loop.p99, ceiling: undefined, unit: "ms", ratio: undefined, target: "≤ 50 ms", met: loop.p99 <= 50 },
    ];
    return { database: kind, accounts, createMs, rest: restSummary, sql: sqlSummary, hubRssBytes: rss, filters, eventLoop: loop, rows };
  } finally {
    api.close();
    await hub.stop();
    await database.drop();
  }
}
