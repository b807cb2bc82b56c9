import { readFileSync } from "node:fs";
import { Command, InvalidArgumentError, Option } from "commander";
import { parse as parseYaml } from "yaml";
import { createHubClient, type HubAnswer, type HubClient } from "./hub-client.js";
import { printJson, printTable, stdoutOutput, type Output } from "./output.js";
import { UsageError } from "./usage-error.js";

/** The hub the CLI talks to when `--hub` is not given. */
const DEFAULT_HUB = "http://localhost:7002";

/** The options every API command takes. */
interface ApiOptions {
  hub: string;
  token?: string;
  ca?: string;
  cert?: string;
  key?: string;
  insecure?: boolean;
  json?: boolean;
}

/** An account as the API shows it (design section 8). */
interface AccountJson {
  name: string;
  status: string;
  zoneId: string;
  source: string;
  agents: { agentId: string; caching: boolean }[];
  lastAssignmentMsg: string;
}

/** An agent as GET /armory/agents shows it. */
interface AgentJson {
  agentId: string;
  zoneId: string;
  hubId: string;
  accounts: number;
  caching: number;
  lastHeartbeat: string;
  version?: string;
  labels?: Record<string, string>;
}

/** One record of an account's audit history (design section 14). */
interface HistoryItem {
  at: string;
  actor: string;
  action: string;
  status: string;
  /** The definition fields the change touched, with their new (redacted) values. */
  fields: Record<string, unknown>;
}

/** What an action gets: the client, where to print, and the options. */
interface Run<O> {
  client: HubClient;
  out: Output;
  options: O & ApiOptions;
}

function positiveInteger(value: string): number {
  if (!/^[0-9]+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError("expected a whole number of 1 or more");
  return Number(value);
}

/** Repeatable list option; a value may also hold several items separated by commas. */
function collect(value: string, previous: string[]): string[] {
  return [...previous, ...value.split(",").filter((v) => v !== "")];
}

/** Adds the connection and output options, and runs `action` with a client built from them. */
function apiCommand<O>(command: Command, action: (run: Run<O>, args: string[]) => Promise<number | void>): Command {
  return command
    .option("--hub <url>", "the hub's base URL", DEFAULT_HUB)
    .addOption(new Option("--token <token>", "bearer token (sent as Authorization: Bearer)").env("AGENT_HUB_TOKEN"))
    .option("--ca <file>", "PEM file of the CA that signed the hub's certificate")
    .option("--cert <file>", "PEM client certificate for mTLS (with --key)")
    .option("--key <file>", "PEM key of the client certificate")
    .option("--insecure", "do not verify the hub's TLS certificate")
    .option("--json", "print the API's JSON (for scripts)")
    .action(async (...params: unknown[]) => {
      const cmd = params[params.length - 1] as Command;
      const options = cmd.opts<O & ApiOptions>();
      const client = createHubClient({
        hub: options.hub,
        token: options.token,
        caFile: options.ca,
        certFile: options.cert,
        keyFile: options.key,
        insecure: options.insecure === true,
      });
      // Commander passes the positional arguments (a variadic one as an array), the options, the command.
      const args = params.slice(0, -2).flat() as string[];
      const code = await action({ client, out: stdoutOutput(options.json === true), options }, args);
      if (typeof code === "number") process.exitCode = code;
    });
}

/** The `?dryRun=true` suffix and a note for the person when the command is a dry run. */
function dryRun(options: { dryRun?: boolean }): { query: string; note: string } {
  return options.dryRun === true ? { query: "?dryRun=true", note: " (dry run: nothing was changed)" } : { query: "", note: "" };
}

/**
 * Reports a change the API accepted (202) or partly accepted (409 with the conflicting names);
 * exit code 1 for a conflict, since not everything asked for was done.
 */
function reportChange(run: Run<{ dryRun?: boolean }>, answer: HubAnswer, done: string): number {
  const { note } = dryRun(run.options);
  if (run.out.json) {
    printJson(run.out, answer.body ?? {});
  } else if (answer.status === 409) {
    process.stderr.write(`agent-hub: already exist: ${(answer.body as string[]).join(", ")}; the others went through${note}\n`);
  } else {
    run.out.write(`${done}${note}\n`);
  }
  return answer.status === 409 ? 1 : 0;
}

/** Reads account definitions from a JSON or YAML file ("-" for stdin). */
function readDefinitions(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (err) {
    throw new UsageError(`--file ${file}: ${(err as Error).message}`);
  }
  try {
    return parseYaml(text) as unknown;
  } catch (err) {
    throw new UsageError(`--file ${file} is neither JSON nor YAML: ${(err as Error).message}`);
  }
}

interface DefinitionOptions {
  file?: string;
  name?: string;
  zone?: string;
  kubeconfigFile?: string;
  serviceAccount?: boolean;
  dryRun?: boolean;
}

/** The definition(s) of create/update: from --file, or built from --name and the other flags. */
function definitionsFrom(options: DefinitionOptions): unknown {
  if (options.file !== undefined) {
    if (options.name !== undefined) throw new UsageError("give either --file or --name, not both");
    return readDefinitions(options.file);
  }
  if (options.name === undefined) throw new UsageError("give --file FILE or --name NAME (with --kubeconfig-file or --service-account)");
  return {
    name: options.name,
    ...(options.zone === undefined ? {} : { zoneId: options.zone }),
    ...(options.kubeconfigFile === undefined ? {} : { kubeconfigFile: options.kubeconfigFile }),
    ...(options.serviceAccount === true ? { serviceAccount: true } : {}),
  };
}

function definitionOptions(command: Command): Command {
  return command
    .option("-f, --file <file>", "account definition(s), JSON or YAML; - for stdin")
    .option("--name <name>", "the account's name (instead of --file)")
    .option("--zone <zone>", "pin the account to this zone")
    .option("--kubeconfig-file <path>", "kubeconfig path on the agent")
    .option("--service-account", "the agent uses its own service account")
    .option("--dry-run", "check the request without changing anything");
}

/** Account fields PATCH and migrate store along (design section 8). */
function overrides(options: { zone?: string; kubeconfigFile?: string }): Record<string, string> {
  return {
    ...(options.zone === undefined ? {} : { zoneId: options.zone }),
    ...(options.kubeconfigFile === undefined ? {} : { kubeconfigFile: options.kubeconfigFile }),
  };
}

const holders = (a: AccountJson) => a.agents.map((h) => (h.caching ? `${h.agentId}*` : h.agentId)).join(",");
const accountRow = (a: AccountJson) => [a.name, a.status, a.zoneId, a.source, holders(a), a.lastAssignmentMsg];
const ACCOUNT_HEADER = ["NAME", "STATUS", "ZONE", "SOURCE", "AGENTS (*caching)", "MESSAGE"];

/** `agent-hub accounts …`: the Dynamic Accounts API. */
export function accountsCommand(): Command {
  const accounts = new Command("accounts").description("list and change accounts (the Dynamic Accounts API)");

  apiCommand<{ status: string[]; zone?: string; source?: string; namePrefix?: string; page?: number; limit?: number }>(
    accounts
      .command("list")
      .description("one page of accounts, filtered")
      .option("--status <state>", "only accounts in this state (repeatable, or comma-separated)", collect, [])
      .option("--zone <zone>", "only accounts pinned to this zone (\"\" for unpinned)")
      .addOption(new Option("--source <source>", "only accounts of this source").choices(["clouddriver", "static-agent-config"]))
      .option("--name-prefix <prefix>", "only names starting with this (case-sensitive)")
      .option("--page <n>", "page number, from 1", positiveInteger)
      .option("--limit <n>", "accounts per page, 1-1000", positiveInteger),
    async ({ client, out, options }) => {
      const query = new URLSearchParams();
      for (const s of options.status) query.append("status", s);
      if (options.zone !== undefined) query.set("zoneId", options.zone);
      if (options.source !== undefined) query.set("source", options.source);
      if (options.namePrefix !== undefined) query.set("namePrefix", options.namePrefix);
      if (options.page !== undefined) query.set("page", String(options.page));
      if (options.limit !== undefined) query.set("limit", String(options.limit));
      const text = query.toString();
      const { body } = await client.request("GET", `/armory/accounts${text === "" ? "" : `?${text}`}`);
      const page = body as { items: AccountJson[]; page: number; limit: number; total: number };
      if (out.json) return printJson(out, page);
      printTable(out, ACCOUNT_HEADER, page.items.map(accountRow));
      if (out.tty) out.write(`page ${page.page} of ${Math.max(1, Math.ceil(page.total / page.limit))}, ${page.total} account${page.total === 1 ? "" : "s"}\n`);
    },
  );

  apiCommand(accounts.command("get").description("one account").argument("<name>"), async ({ client, out }, [name]) => {
    const { body } = await client.request("GET", `/armory/accounts/${encodeURIComponent(name!)}`);
    const account = body as AccountJson & { config: unknown };
    if (out.json) return printJson(out, account);
    printTable(out, ["FIELD", "VALUE"], [
      ["name", account.name],
      ["status", account.status],
      ["zone", account.zoneId],
      ["source", account.source],
      ["agents", holders(account)],
      ["message", account.lastAssignmentMsg],
      ["config", JSON.stringify(account.config)],
    ]);
  });

  apiCommand<DefinitionOptions>(
    definitionOptions(accounts.command("create").description("create accounts (POST /armory/accounts/dynamic); they start INACTIVE")),
    async (run) => {
      const { query } = dryRun(run.options);
      const answer = await run.client.request("POST", `/armory/accounts/dynamic${query}`, definitionsFrom(run.options));
      return reportChange(run, answer, "created");
    },
  );

  apiCommand<DefinitionOptions>(
    definitionOptions(accounts.command("update").description("replace one account's definition, or create it (PUT /armory/accounts/dynamic)")),
    async (run) => {
      const definition = definitionsFrom(run.options);
      if (Array.isArray(definition)) throw new UsageError("update takes one account definition, not a list");
      const answer = await run.client.request("PUT", `/armory/accounts/dynamic${dryRun(run.options).query}`, definition);
      return reportChange(run, answer, "stored");
    },
  );

  const stateCommand = (name: string, state: "ACTIVE" | "INACTIVE", description: string) =>
    apiCommand<{ zone?: string; kubeconfigFile?: string; dryRun?: boolean }>(
      accounts
        .command(name)
        .description(description)
        .argument("<names...>")
        .option("--zone <zone>", "store this zone with the change")
        .option("--kubeconfig-file <path>", "store this kubeconfig path with the change")
        .option("--dry-run", "check the request without changing anything"),
      async (run, names) => {
        const body = names.map((n) => ({ name: n, state, ...overrides(run.options) }));
        const answer = await run.client.request("PATCH", `/armory/accounts${dryRun(run.options).query}`, body);
        return reportChange(run, answer, `${name === "activate" ? "activating" : "deactivating"} ${body.length} account(s); \`accounts list\` shows when they are done`);
      },
    );
  stateCommand("activate", "ACTIVE", "activate accounts: ACTIVATING, then ACTIVE once an agent takes them");
  stateCommand("deactivate", "INACTIVE", "deactivate accounts: INACTIVE once their agents let go");

  apiCommand<{ dryRun?: boolean }>(
    accounts.command("delete").description("delete accounts (all or nothing)").argument("<names...>").option("--dry-run", "check the request without changing anything"),
    async (run, names) => {
      const answer = await run.client.request("DELETE", `/armory/accounts${dryRun(run.options).query}`, names);
      return reportChange(run, answer, `deleting ${names.length} account(s); they disappear once their agents let go`);
    },
  );

  apiCommand<{ zone?: string; kubeconfigFile?: string; dryRun?: boolean }>(
    accounts
      .command("migrate")
      .description("migrate accounts from Clouddriver's accounts table (POST /armory/accounts)")
      .argument("<names...>")
      .option("--zone <zone>", "pin the migrated accounts to this zone")
      .option("--kubeconfig-file <path>", "kubeconfig path on the agent")
      .option("--dry-run", "check the request without changing anything"),
    async (run, names) => {
      const body = names.map((n) => ({ name: n, ...overrides(run.options) }));
      const answer = await run.client.request("POST", `/armory/accounts${dryRun(run.options).query}`, body);
      return reportChange(run, answer, `migrated ${body.length} account(s); they are INACTIVE until activated`);
    },
  );

  apiCommand<{ page?: number; limit?: number }>(
    accounts
      .command("history")
      .description("an account's audit history, newest first")
      .argument("<name>")
      .option("--page <n>", "page number, from 1", positiveInteger)
      .option("--limit <n>", "records per page", positiveInteger),
    async ({ client, out, options }, [name]) => {
      const query = new URLSearchParams();
      if (options.page !== undefined) query.set("page", String(options.page));
      if (options.limit !== undefined) query.set("limit", String(options.limit));
      const text = query.toString();
      const { body } = await client.request("GET", `/armory/accounts/${encodeURIComponent(name!)}/history${text === "" ? "" : `?${text}`}`);
      const page = body as { items: HistoryItem[]; page: number; limit: number; total: number };
      if (out.json) return printJson(out, page);
      printTable(out, ["AT", "ACTOR", "ACTION", "STATUS", "FIELDS"], page.items.map((i) => [i.at, i.actor, i.action, i.status, Object.keys(i.fields).join(",")]));
      if (out.tty) out.write(`page ${page.page} of ${Math.max(1, Math.ceil(page.total / page.limit))}, ${page.total} record${page.total === 1 ? "" : "s"}\n`);
    },
  );
  return accounts;
}

/** `agent-hub agents`: the connected agents. */
export function agentsCommand(): Command {
  return apiCommand<{ zone?: string }>(
    new Command("agents").description("the connected agents, with how many accounts each holds and caches").option("--zone <zone>", "only agents of this zone"),
    async ({ client, out, options }) => {
      const query = options.zone === undefined ? "" : `?zoneId=${encodeURIComponent(options.zone)}`;
      const agents = (await client.request("GET", `/armory/agents${query}`)).body as AgentJson[];
      if (out.json) return printJson(out, agents);
      const labels = (a: AgentJson) =>
        Object.entries(a.labels ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join(",");
      printTable(
        out,
        ["AGENT", "ZONE", "HUB", "ACCOUNTS", "CACHING", "VERSION", "LABELS", "LAST HEARTBEAT"],
        agents.map((a) => [a.agentId, a.zoneId, a.hubId, String(a.accounts), String(a.caching), a.version ?? "", labels(a), a.lastHeartbeat]),
      );
    },
  );
}
