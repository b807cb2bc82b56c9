import { Command, CommanderError } from "commander";
import { ConfigError } from "../config/config.js";
import { accountsCommand, agentsCommand } from "./api-commands.js";
import { ApiError, ConnectionError } from "./hub-client.js";
import { UsageError } from "./usage-error.js";

/** Exit codes: 0 done, 1 the API or the hub refused or failed, 2 the command line is wrong. */
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

// The hub is loaded only by the commands that run it, so that the API commands start quickly.
async function serve(configFile: string | undefined): Promise<void> {
  const [{ loadConfig }, { startApp }] = await Promise.all([import("../config/config.js"), import("../server/app.js")]);
  const config = loadConfig({ file: configFile });
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

/**
 * A command whose options another parser reads (seed-clouddriver): commander hands it every
 * argument after the command's name untouched, `--help` included.
 */
function passThrough(name: string, description: string, run: (args: string[]) => Promise<void>): Command {
  return new Command(name)
    .description(description)
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .passThroughOptions()
    .argument("[args...]")
    .action(async (_args: string[], _options: unknown, command: Command) => run(command.args));
}

/** The `agent-hub` command line. */
export function program(): Command {
  const root = new Command("agent-hub")
    .description("agent-hub: the hub Kubernetes scale agents connect to, and a client for its API")
    .enablePositionalOptions()
    .showHelpAfterError("(add --help for usage)")
    .exitOverride();
  // No command at all is `serve`, as `npm start` and the bin always did.
  root.argument("[command]").action((command: string | undefined) => {
    if (command !== undefined) throw new UsageError(`unknown command ${JSON.stringify(command)} (see agent-hub --help)`);
    return serve(undefined);
  });
  root
    .command("serve")
    .description("run the hub (PGlite in ./data unless DATABASE_URL is set)")
    .option("-c, --config <file>", "YAML configuration file")
    .action((options: { config?: string }) => serve(options.config));
  root.addCommand(
    passThrough(
      "seed-clouddriver",
      "put an account into Clouddriver's accounts table: --name NAME [--type kubernetes] [--body JSON] [--config FILE] (try-outs; on the embedded database, run it while the hub is stopped)",
      async (args) => (await import("./seed-command.js")).seedClouddriverCommand(args),
    ),
  );
  root.addCommand(accountsCommand());
  root.addCommand(agentsCommand());
  // Every subcommand reports usage errors through the same exception as the root.
  const override = (command: Command): void => {
    command.exitOverride();
    command.commands.forEach(override);
  };
  override(root);
  return root;
}

/** Prints an API error with the API's own message and what its details name. */
function reportApiError(err: ApiError): void {
  const lines = [`agent-hub: ${err.message} (HTTP ${err.status} ${err.code})`];
  for (const d of err.details) {
    const what = typeof d.field === "string" ? d.field : Array.isArray(d.names) ? (d.names as string[]).join(", ") : "";
    if (what !== "" || typeof d.reason === "string") lines.push(`  ${what}: ${String(d.reason ?? "")}`);
  }
  process.stderr.write(`${lines.join("\n")}\n`);
}

program()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    if (err instanceof CommanderError) {
      // Commander printed the message already; help and --version are not errors.
      process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE);
    }
    if (err instanceof ApiError) {
      reportApiError(err);
      process.exit(EXIT_FAILED);
    }
    // Node's parseArgs (seed-clouddriver) reports a bad option as a TypeError with a code.
    if (err instanceof UsageError || (err instanceof TypeError && "code" in err)) {
      process.stderr.write(`agent-hub: ${err.message}\n`);
      process.exit(EXIT_USAGE);
    }
    if (err instanceof ConfigError || err instanceof ConnectionError) {
      process.stderr.write(`agent-hub: ${err.message}\n`);
    } else {
      process.stderr.write(`agent-hub: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
    process.exit(EXIT_FAILED);
  });
