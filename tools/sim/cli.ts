import { writeFileSync } from "node:fs";
import { NonLoopbackTargetError } from "./loopback.js";
import { parseSimOptions, SIM_USAGE, SimUsageError } from "./options.js";
import { barProgress, plainProgress } from "./progress.js";
import { formatReport } from "./report.js";
import { runSimulation } from "./simulation.js";

/**
 * `npm run sim -- …` (`tsx tools/sim/cli.ts`): runs a simulation, prints the report, writes
 * `--json`. Not part of the production build: it reaches the hub over the network only.
 */
async function runSimCommand(args: string[]): Promise<number> {
  let opts;
  try {
    opts = parseSimOptions(args, process.stdout.isTTY === true);
  } catch (err) {
    if (err instanceof SimUsageError || err instanceof NonLoopbackTargetError || (err instanceof TypeError && "code" in err)) {
      process.stderr.write(`sim: ${err.message}\n\n${SIM_USAGE}`);
      return 2;
    }
    throw err;
  }
  if (opts === "help") {
    process.stdout.write(SIM_USAGE);
    return 0;
  }
  const progress = opts.tty ? barProgress(process.stdout) : plainProgress((line) => process.stdout.write(`${line}\n`));
  const report = await runSimulation(opts, { progress });
  process.stdout.write(`\n${formatReport(report)}\n`);
  if (opts.json !== undefined) writeFileSync(opts.json, `${JSON.stringify(report, null, 2)}\n`);
  return 0;
}

runSimCommand(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`sim: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
