/**
 * `npm run bench [scenario…]`: runs benchmark scenarios against a local hub, each paired in the
 * same run with its ceiling (raw echo transport, raw SQL), writes bench/results/<scenario>.json
 * and prints a table. Without arguments it runs the default set; `agents-10k` is opt-in.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { plainProgress } from "../src/sim/progress.js";
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
  run: () => runAgentsScenario(s, progress),
});

const SCENARIOS: Scenario[] = [
  agents("agents-1k", "1,000 agents in 500 zones, 10,000 accounts, operations, 10 agents killed", true, {
    agents: 1_000,
    accounts: 10_000,
    opsConcurrency: 64,
    opsDurationMs: 10_000,
    kill: 10,
    workers: 1,
  }),
  {
    name: "list-100k",
    description: "GET /armory/accounts?limit=100 at 100,000 accounts vs the raw SQL query",
    byDefault: true,
    run: () => runListScenario(100_000, progress),
  },
  {
    name: "list-100k-pg",
    description: "list-100k (with filters) on PostgreSQL at $DATABASE_URL, in a schema of its own",
    byDefault: false,
    async run() {
      const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
      const schema = `bench_${Date.now().toString(36)}`;
      try {
        return await runListScenario(100_000, progress, { databaseUrl: url, "database.schema": schema });
      } finally {
        const admin = postgres(url, { max: 1, onnotice: () => {} });
        await admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await admin.end();
      }
    },
  },
  agents("agents-10k", "10,000 agents in 5,000 zones, 50,000 accounts (opt-in: several minutes)", false, {
    agents: 10_000,
    accounts: 50_000,
    opsConcurrency: 64,
    opsDurationMs: 10_000,
    kill: 50,
    workers: 2,
  }),
];

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
    const result = await s.run();
    const file = `${dir}${s.name}.json`;
    writeFileSync(file, `${JSON.stringify({ scenario: s.name, date: new Date().toISOString(), machine, ...result }, null, 2)}\n`);
    process.stdout.write(`\n${s.name} (${new Date().toISOString().slice(0, 10)}, ${machine.cpus} cores)\n${formatTable(result.rows)}\nwritten to ${file}\n`);
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
