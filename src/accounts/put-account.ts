import type { JsonValue } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { createClouddriverAccounts } from "../store/clouddriver-accounts.js";
import { createAccountStore, StaleAccountsError } from "../store/account-store.js";
import { hasProblems, noProblems, requestError } from "./api-errors.js";
import { notifyHub, transactionOptions, type AccountContext } from "./account-context.js";
import { agentDefinitionOf, newAccount, parseDefinition, zoneIdOf, type AccountDefinition } from "./account-definition.js";
import { AccountSource, AccountStatus } from "../model/account-states.js";
import { inAccountTransaction } from "./optimistic-transaction.js";
import { isJsonObject } from "./request-body.js";

/** The one definition a PUT body must be. */
function parsePutBody(body: JsonValue | undefined): AccountDefinition {
  const problems = noProblems();
  let account: AccountDefinition | undefined;
  if (body === undefined) problems.fields.push({ field: "body", reason: "an account object is required" });
  else if (Array.isArray(body)) problems.fields.push({ field: "body", reason: "expected one account object, not an array" });
  else if (!isJsonObject(body)) problems.fields.push({ field: "body", reason: "expected an account object" });
  else account = parseDefinition({ at: "", object: body }, problems);
  // parseDefinition reports a problem whenever it returns nothing.
  if (account === undefined || hasProblems(problems)) throw requestError(Code.InvalidArgument, problems);
  return account;
}

/** A conflict (409), or the account was stored: created, or an existing definition replaced. */
type PutOutcome = { conflict: true } | { conflict: false; replaced: boolean };

/**
 * PUT /armory/accounts/dynamic: replaces the stored definition of one account, or creates it
 * INACTIVE. A name only Clouddriver has is a conflict (409: migrate it first); a static account
 * is refused (400), and so is one being deleted. The hub pushes the new definition to holders.
 * Returns the conflicting names: `[name]` or `[]`.
 */
export async function putAccount(context: AccountContext, body: JsonValue | undefined): Promise<string[]> {
  const account = parsePutBody(body);
  const { name, definition } = account;

  const outcome = await inAccountTransaction(context.database, async (tx): Promise<PutOutcome> => {
    const store = createAccountStore(tx);
    const row = await store.findByName(name);
    if (row === undefined) {
      if ((await createClouddriverAccounts(tx, context.clouddriverSchema).findByName(name)) !== undefined) return { conflict: true };
      // Created by someone else since the read: run again and replace it instead.
      if ((await store.insertNew([newAccount(account, "created")])).length === 0) throw new StaleAccountsError([name]);
      return { conflict: false, replaced: false };
    }
    if (row.source === AccountSource.STATIC) {
      throw requestError(Code.InvalidArgument, { fields: [], names: [{ names: [name], reason: "static accounts belong to their agents' config and cannot be replaced" }] });
    }
    if (row.status === AccountStatus.DELETING) {
      throw requestError(Code.FailedPrecondition, { fields: [], names: [{ names: [name], reason: "cannot be replaced while DELETING" }] });
    }
    await store.applyUpdates([
      {
        name,
        expectedVersion: row.version,
        expectedStatus: row.status,
        status: row.status,
        zoneId: zoneIdOf(definition),
        definition,
        agentDefinition: agentDefinitionOf(definition),
        failedCount: row.failedCount,
      },
    ]);
    return { conflict: false, replaced: true };
  }, transactionOptions(context));

  if (outcome.conflict) return [name];
  context.logger.info({ replaced: outcome.replaced }, "account definition stored");
  if (outcome.replaced) await notifyHub(context, [{ name, kind: "update" }]);
  return [];
}
