import type { JsonValue } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { createClouddriverAccounts } from "../clouddriver/clouddriver-accounts.js";
import { createAccountStore } from "../store/account-store.js";
import { noProblems, requestError, throwIfInvalid } from "./api-errors.js";
import { applyOverrides, parseMigrateRequest } from "./account-changes.js";
import type { AccountContext } from "./account-context.js";
import { newAccount, readClouddriverBody } from "./account-definition.js";
import { inAccountTransaction } from "./optimistic-transaction.js";

/**
 * POST /armory/accounts: copies the named accounts' `body` from Clouddriver's table into the hub
 * (origin `migrated`, INACTIVE), with the given zoneId/kubeconfig fields stored over it.
 * Clouddriver's table is only read. Returns the names that were in the hub already (409);
 * the others are migrated. A name Clouddriver does not have fails the whole request (400).
 */
export async function migrateAccounts(context: AccountContext, body: JsonValue | undefined): Promise<string[]> {
  const problems = noProblems();
  const requests = parseMigrateRequest(body, problems);
  throwIfInvalid(problems);
  const names = requests.map((r) => r.name);

  const conflicts = await inAccountTransaction(context.database, async (tx) => {
    const inClouddriver = await createClouddriverAccounts(tx, context.clouddriverSchema).findByNames(names);
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
  });

  context.logger.info({ migrated: names.length - conflicts.length, conflicts: conflicts.length }, "accounts migrated from Clouddriver");
  return conflicts;
}
