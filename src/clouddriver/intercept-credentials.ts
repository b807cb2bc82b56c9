import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { notifyHub, transactionOptions, type AccountContext } from "../accounts/account-context.js";
import { agentDefinitionOf, newAccount, parseDefinition, zoneIdOf, type AccountDefinition } from "../accounts/account-definition.js";
import { AccountSource, AccountStatus } from "../model/account-states.js";
import { transitionFor } from "../accounts/state-transitions.js";
import { hasProblems, noProblems, requestError } from "../accounts/api-errors.js";
import { inAccountTransaction } from "../accounts/optimistic-transaction.js";
import { isJsonObject } from "../accounts/request-body.js";
import type { AccountChange } from "../hub/reconciler.js";
import { createAccountStore, StaleAccountsError, type AccountRow } from "../store/account-store.js";
import type { Db } from "../store/database.js";
import { clouddriverTableLabel, createClouddriverAccounts, KUBERNETES_TYPE } from "../store/clouddriver-accounts.js";

/** The origin of accounts stored through the interceptor (design section 3). */
const INTERCEPTOR_ORIGIN = "interceptor";

/** POST creates only; PUT creates or replaces. */
export type CredentialsWrite = "create" | "put";

/**
 * The one `kubernetes` account of a `/credentials` body. Clouddriver reads `type` to know which
 * provider an account is for, so a missing `type` is refused as well as another one: the hub
 * cannot hand an account it does not serve back to Clouddriver.
 */
function parseCredentials(body: JsonValue | undefined): AccountDefinition {
  const problems = noProblems();
  let account: AccountDefinition | undefined;
  if (body === undefined) problems.fields.push({ field: "body", reason: "an account object is required" });
  else if (Array.isArray(body)) problems.fields.push({ field: "body", reason: "expected one account object, not an array" });
  else if (!isJsonObject(body)) problems.fields.push({ field: "body", reason: "expected an account object" });
  else if (body.type === undefined) {
    problems.fields.push({ field: "type", reason: `type is required; agent-hub serves "${KUBERNETES_TYPE}" accounts` });
  } else if (body.type !== KUBERNETES_TYPE) {
    const reason = `agent-hub serves only "${KUBERNETES_TYPE}" accounts, not ${JSON.stringify(body.type)}; send those to Clouddriver itself`;
    problems.fields.push({ field: "type", reason });
  } else account = parseDefinition({ at: "", object: body }, problems);
  // parseDefinition reports a problem whenever it returns nothing.
  if (account === undefined || hasProblems(problems)) throw requestError(Code.InvalidArgument, problems);
  return account;
}

/** 409: the name is taken, so POST cannot create it (or PUT must not take it from Clouddriver). */
function nameTaken(name: string, reason: string) {
  return requestError(Code.AlreadyExists, { fields: [], names: [{ names: [name], reason }] });
}

/** The row for a name the hub does not have; a name only Clouddriver's table has stays Clouddriver's. */
async function insertActivating(tx: Db, context: AccountContext, account: AccountDefinition): Promise<void> {
  const { name } = account;
  if ((await createClouddriverAccounts(tx, context.clouddriverSchema).findByName(name)) !== undefined) {
    const table = clouddriverTableLabel(context.clouddriverSchema);
    throw nameTaken(name, `is in Clouddriver's accounts table ${table}; migrate it (POST /armory/accounts) to manage it through the hub`);
  }
  const row = { ...newAccount(account, INTERCEPTOR_ORIGIN), status: AccountStatus.ACTIVATING };
  // Created by someone else since the read: run again, which answers 409 (POST) or replaces it (PUT).
  if ((await createAccountStore(tx).insertNew([row])).length === 0) throw new StaleAccountsError([name]);
}

/**
 * PUT on an existing account: the definition is replaced and the account activated. An ACTIVE or
 * ACTIVATING account stays so and its holders get the new definition (an update, not a new
 * placement); INACTIVE, FAILED and ORPHANED ones are activated; the others refuse as PATCH does.
 */
async function replaceAndActivate(tx: Db, row: AccountRow, definition: JsonObject): Promise<AccountChange["kind"]> {
  const { name } = row;
  if (row.source === AccountSource.STATIC) {
    throw requestError(Code.InvalidArgument, { fields: [], names: [{ names: [name], reason: "static accounts belong to their agents' config and cannot be replaced" }] });
  }
  const served = row.status === AccountStatus.ACTIVE || row.status === AccountStatus.ACTIVATING;
  const transition = transitionFor(row.status, "ACTIVE");
  if (transition.kind === "refuse") throw requestError(Code.FailedPrecondition, { fields: [], names: [{ names: [name], reason: transition.reason }] });
  await createAccountStore(tx).applyUpdates([
    {
      name,
      expectedVersion: row.version,
      expectedStatus: row.status,
      status: served ? row.status : AccountStatus.ACTIVATING,
      zoneId: zoneIdOf(definition),
      definition,
      agentDefinition: agentDefinitionOf(definition),
      failedCount: served ? row.failedCount : 0,
    },
  ]);
  return served ? "update" : "activate";
}

/**
 * Clouddriver's `POST /credentials` (create) and `PUT /credentials` (create or replace) for one
 * `kubernetes` account (design section 10): stored (origin `interceptor` when new) and activated
 * in one transaction, then handed to the hub. Returns the stored definition (not yet redacted).
 * Names are checked as in the accounts API: a name the hub has → 409 for POST; a static account
 * → 409 for POST, 400 for PUT; a name only in Clouddriver's table → 409.
 */
export async function interceptCredentials(context: AccountContext, write: CredentialsWrite, body: JsonValue | undefined): Promise<JsonObject> {
  const account = parseCredentials(body);
  const { name, definition } = account;

  const kind = await inAccountTransaction(context.database, async (tx): Promise<AccountChange["kind"]> => {
    const row = await createAccountStore(tx).findByName(name);
    if (row === undefined) {
      await insertActivating(tx, context, account);
      return "activate";
    }
    if (write === "create") {
      throw nameTaken(name, row.source === AccountSource.STATIC ? "is a static account of an agent" : "already exists in the hub; use PUT to replace it");
    }
    return replaceAndActivate(tx, row, definition);
  }, transactionOptions(context));

  context.logger.info({ write, kind }, "account stored through the Clouddriver interceptor");
  await notifyHub(context, [{ name, kind }]);
  return definition;
}
