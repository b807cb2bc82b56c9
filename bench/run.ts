/**
 * `npm run bench [scenario…]`: runs benchmark scenarios against a local hub, each paired in the
 * same run with its ceiling (raw echo transport, raw SQL), writes bench/results/<scenario>.json
 * and prints a table. Without arguments it runs the default set; `agents-10k` is opt-in.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import { plainProgress } from "../tools/sim/progress.js";
import { runAgentsScenario, type AgentsScenario } from "./agents-scenario.js";
import { runListScenario } from "./list-scenario.js";
import { formatTable, type ResultRow } from "./table.js";

interface Scenario {
  name: string;
  description: string;
  byDefault: boolean;
  run(): Promise<{ rows: ResultRow[] } & object>;
}

const progress = plainProgress((line) => process.stdout.write(`${line}\n`));

const agents = (name: string, description: string, byDefault: boolean, s: AgentsScenario): Scenario => ({
  name,
  description,
  byDefault,
  run: () => runAgentsScenario(s, progress, name.endsWith("-pglite") ? "pglite" : "postgres"),
});

const SCENARIOS: Scenario[] = [
  agents("zones-2k", "PostgreSQL: 2,000 agents in 20 zones (100 per zone), 10,000 accounts, operations, 20 agents killed, reconnect storm", true, {
    agents: 2_000,
    zones: 20,
    accounts: 10_000,
    storm: true,
    opsConcurrency: 64,
    opsDurationMs: 10_000,
    kill: 20,
    workers: 1,
  }),
  {
    name: "list-100k",
    description: "PostgreSQL: GET /armory/accounts?limit=100 at 100,000 accounts vs the raw SQL query",
    byDefault: true,
    run: () => runListScenario(100_000, progress),
  },
  agents("wide-10k", "PostgreSQL: 10,000 agents in 5,000 zones, 50,000 accounts, 50 agents killed, reconnect storm (several minutes)", true, {
    agents: 10_000,
    zones: 5_000,
    accounts: 50_000,
    storm: true,
    opsConcurrency: 64,
    opsDurationMs: 10_000,
    kill: 50,
    workers: 4,
  }),
  agents("replicas-3k", "PostgreSQL: 3 hub processes on one database, 3,000 agents (1,000 on each) in 30 zones, 9,000 accounts, operations through the first replica, 30 agents killed, then one replica killed with -9: statements and NOTIFYs per replica, heal time, double caching judged by the agents", true, {
    agents: 3_000,
    zones: 30,
    accounts: 9_000,
    storm: false,
    opsConcurrency: 64,
    opsDurationMs: 10_000,
    kill: 30,
    workers: 3,
    replicas: 3,
    killReplica: true,
  }),
  agents("zones-10k", "PostgreSQL: 10,000 agents in 50 zones (200 per zone), 50,000 accounts, reconnect storm (opt-in)", false, {
    agents: 10_000,
    zones: 50,
    accounts: 50_000,
    storm: true,
    opsConcurrency: 64,
    opsDurationMs: 10_000,
    kill: 50,
    workers: 4,
  }),
  agents("agents-1k-pglite", "PGlite (embedded): 1,000 agents in 500 zones, 10,000 accounts (opt-in second column)", false, {
    agents: 1_000,
    zones: 500,
    accounts: 10_000,
    storm: false,
    opsConcurrency: 64,
    opsDurationMs: 10_000,
    kill: 10,
    workers: 1,
  }),
];

/**
 * The 1-minute load average every 5 s while a scenario runs: on a shared machine it says how
 * much of a figure is the machine and not the hub (the ceiling in the same run shares the load).
 */
function sampleLoad(): { stop(): { min: number; mean: number; max: number; samples: number } } {
  const samples = [loadavg()[0]!];
  const timer = setInterval(() => samples.push(loadavg()[0]!), 5_000);
  return {
    stop() {
      clearInterval(timer);
      samples.push(loadavg()[0]!);
      const round = (n: number) => Math.round(n * 10) / 10;
      return { min: round(Math.min(...samples)), mean: round(samples.reduce((a, b) => a + b, 0) / samples.length), max: round(Math.max(...samples)), samples: samples.length };
    },
  };
}

async function main(names: string[]): Promise<number> {
  if (names.includes("--help") || names.includes("-h")) {
    process.stdout.write(`usage: npm run bench [-- scenario…]\n\n${SCENARIOS.map((s) => `  ${s.name.padEnd(12)} ${s.description}${s.byDefault ? "" : " [opt-in]"}`).join("\n")}\n`);
    return 0;
  }
  const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length > 0) {
    process.stderr.write(`bench: unknown scenario ${unknown.join(", ")}; known: ${SCENARIOS.map((s) => s.name).join(", ")}\n`);
    return 2;
  }
  const chosen = names.length === 0 ? SCENARIOS.filter((s) => s.byDefault) : SCENARIOS.filter((s) => names.includes(s.name));
  const dir = fileURLToPath(new URL("./results/", import.meta.url));
  mkdirSync(dir, { recursive: true });
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "", memoryGiB: Math.round(totalmem() / 1024 ** 3), node: process.version };
  for (const s of chosen) {
    progress.log(`\n== ${s.name}: ${s.description}`);
    const load = sampleLoad();
    const result = await s.run();
    const loadAverage = load.stop();
    const file = `${dir}${s.name}.json`;
    writeFileSync(file, `${JSON.stringify({ scenario: s.name, date: new Date().toISOString(), machine, loadAverage, ...result }, null, 2)}\n`);
    const loadText = `load average ${loadAverage.min}–${loadAverage.max} (mean ${loadAverage.mean})`;
    process.stdout.write(`\n${s.name} (${new Date().toISOString().slice(0, 10)}, ${machine.cpus} cores, ${loadText})\n${formatTable(result.rows)}\nwritten to ${file}\n`);
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
