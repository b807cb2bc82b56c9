import { parseArgs } from "node:util";
import { loadConfig } from "../config/config.js";
import { insertClouddriverAccount } from "../clouddriver/seed.js";
import { openDatabase } from "../store/database.js";
import { UsageError } from "./usage-error.js";

/**
 * `agent-hub seed-clouddriver --name NAME [--type TYPE] [--body JSON]`: puts one account into
 * Clouddriver's `accounts` table of the configured database, for trying migration without a
 * Clouddriver. On the embedded database run it while the hub is stopped (PGlite has one user).
 */
export async function seedClouddriverCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { config: { type: "string", short: "c" }, name: { type: "string" }, type: { type: "string" }, body: { type: "string" } },
    strict: true,
  });
  if (values.name === undefined || values.name === "") throw new UsageError("seed-clouddriver needs --name");
  let body: unknown = {};
  if (values.body !== undefined) {
    try {
      body = JSON.parse(values.body);
    } catch (err) {
      throw new UsageError(`--body is not JSON: ${(err as Error).message}`);
    }
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw new UsageError("--body must be a JSON object");
  const config = loadConfig({ file: values.config });
  const database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, clouddriverSchema: config.clouddriver.schema });
  try {
    await insertClouddriverAccount(database, config.clouddriver.schema, {
      name: values.name,
      ...(values.type === undefined ? {} : { type: values.type }),
      body: body as Record<string, unknown>,
    });
  } finally {
    await database.close();
  }
  process.stdout.write(`put ${values.name} into Clouddriver's accounts table\n`);
}
