import type { JsonValue } from "@bufbuild/protobuf";
import { createClouddriverAccounts } from "../store/clouddriver-accounts.js";
import { createAccountStore } from "../store/account-store.js";
import { noProblems, throwIfInvalid } from "./api-errors.js";
import { transactionOptions, type AccountContext } from "./account-context.js";
import { newAccount, parseDefinition } from "./account-definition.js";
import { inAccountTransaction } from "./optimistic-transaction.js";
import { objectOrArray, reportDuplicates } from "./request-body.js";

/**
 * POST /armory/accounts/dynamic: creates accounts (INACTIVE, origin `created`) from one
 * definition or an array of them. Returns the names that exist already (409) — in the hub, as a
 * static account, or in Clouddriver's table, which are to be migrated instead; the others are
 * created. Any invalid definition fails the whole request (400).
 */
export async function createAccounts(context: AccountContext, body: JsonValue | undefined): Promise<string[]> {
  const problems = noProblems();
  const definitions = objectOrArray(body, problems).flatMap((element) => parseDefinition(element, problems) ?? []);
  reportDuplicates(
    definitions.map((d) => d.name),
    problems,
  );
  throwIfInvalid(problems);
  const names = definitions.map((d) => d.name);

  const conflicts = await inAccountTransaction(context.database, async (tx) => {
    const store = createAccountStore(tx);
    const taken = new Set((await store.findByNames(names)).map((r) => r.name));
    for (const name of (await createClouddriverAccounts(tx, context.clouddriverSchema).findByNames(names)).keys()) taken.add(name);
    const fresh = definitions.filter((d) => !taken.has(d.name)).map((d) => newAccount(d, "created"));
    // A name another request created since the read is a conflict too.
    const inserted = new Set(await store.insertNew(fresh));
    return names.filter((n) => !inserted.has(n));
  }, transactionOptions(context));

  context.logger.info({ created: names.length - conflicts.length, conflicts: conflicts.length }, "accounts created");
  return conflicts;
}
