import type { JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { NamesViolationSchema } from "../../gen/agenthub/v1/errors_pb.js";
import { clouddriverTableLabel, createClouddriverAccounts } from "../store/clouddriver-accounts.js";
import { createAccountStore } from "../store/account-store.js";
import { noProblems, requestError, throwIfInvalid } from "./api-errors.js";
import { applyOverrides, parseMigrateRequest } from "./account-changes.js";
import { transactionOptions, type AccountContext } from "./account-context.js";
import { newAccount, readClouddriverBody } from "./account-definition.js";
import { inAccountTransaction } from "./optimistic-transaction.js";

/**
 * failed_precondition (400) for a migration from a table that is not there: a configuration
 * problem (`clouddriver.schema`), not a problem of the names, so the message says which table.
 */
function missingTableError(schema: string, names: string[]): ConnectError {
  const table = clouddriverTableLabel(schema);
  const hint = schema === "" ? "clouddriver.schema is unset, so the search path was used" : "check clouddriver.schema";
  return new ConnectError(`Clouddriver's accounts table ${table} does not exist (${hint}); nothing was migrated`, Code.FailedPrecondition, undefined, [
    { desc: NamesViolationSchema, value: { names, reason: `cannot be migrated: Clouddriver's accounts table ${table} does not exist` } },
  ]);
}

/**
 * POST /armory/accounts: copies the named accounts' `body` from Clouddriver's table into the hub
 * (origin `migrated`, INACTIVE), with the given zoneId/kubeconfig fields stored over it.
 * Clouddriver's table is only read. Returns the names that were in the hub already (409);
 * the others are migrated. A name Clouddriver does not have fails the whole request (400), and so
 * does a missing table (400 failed_precondition naming it).
 */
export async function migrateAccounts(context: AccountContext, body: JsonValue | undefined): Promise<string[]> {
  const problems = noProblems();
  const requests = parseMigrateRequest(body, problems);
  throwIfInvalid(problems);
  const names = requests.map((r) => r.name);

  const conflicts = await inAccountTransaction(context.database, async (tx) => {
    const clouddriver = createClouddriverAccounts(tx, context.clouddriverSchema);
    if (!(await clouddriver.exists())) throw missingTableError(context.clouddriverSchema, names);
    const inClouddriver = await clouddriver.findByNames(names);
    const unknown = names.filter((n) => !inClouddriver.has(n));
    if (unknown.length > 0) {
      throw requestError(Code.InvalidArgument, { fields: [], names: [{ names: unknown, reason: "not in Clouddriver's accounts table" }] });
    }
    const store = createAccountStore(tx);
    const existing = new Set((await store.findByNames(names)).map((r) => r.name));
    const fresh = requests.flatMap((request) => {
      const source = inClouddriver.get(request.name);
      if (existing.has(request.name) || source === undefined) return [];
      const definition = applyOverrides(readClouddriverBody(request.name, source.body), request.overrides);
      return [newAccount({ name: request.name, definition }, "migrated", source.lastModifiedAt)];
    });
    const inserted = new Set(await store.insertNew(fresh));
    return names.filter((n) => !inserted.has(n));
  }, transactionOptions(context));

  context.logger.info({ migrated: names.length - conflicts.length, conflicts: conflicts.length }, "accounts migrated from Clouddriver");
  return conflicts;
}
