import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../config/config.js";
import { startApp } from "../server/app.js";
import { runSimCommand } from "../sim/cli.js";
import { seedClouddriverCommand, UsageError } from "./seed-command.js";

const USAGE = `usage: agent-hub <command> [options]

commands:
  serve [--config FILE]   run the hub (PGlite in ./data unless DATABASE_URL is set)
  sim [options]           load-test a hub on this machine with simulated agents (sim --help)
  seed-clouddriver --name NAME [--type kubernetes] [--body JSON] [--config FILE]
                          put an account into Clouddriver's accounts table (try-outs;
                          on the embedded database, run it while the hub is stopped)
`;

async function serve(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { config: { type: "string", short: "c" } }, strict: true });
  const config = loadConfig({ file: values.config });
  const app = await startApp(config);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.logger.info({ signal }, "signal received");
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        app.logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case "serve":
    case undefined:
      return serve(rest);
    case "sim":
      process.exitCode = await runSimCommand(rest);
      return;
    case "seed-clouddriver":
      return seedClouddriverCommand(rest);
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(USAGE);
      return;
    default:
      process.stderr.write(`agent-hub: unknown command ${command}\n${USAGE}`);
      process.exit(2);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof UsageError || (err instanceof TypeError && "code" in err)) {
    process.stderr.write(`agent-hub: ${err.message}\n`);
  } else {
    process.stderr.write(`agent-hub: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
  process.exit(1);
});
