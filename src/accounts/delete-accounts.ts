import { createAccountStore, type AccountRow, type AccountUpdate } from "../store/account-store.js";
import { noProblems, throwIfInvalid } from "./api-errors.js";
import { notifyHub, transactionOptions, type AccountContext } from "./account-context.js";
import { nameProblem } from "../model/account-names.js";
import { AccountStatus } from "../model/account-states.js";
import { inAccountTransaction } from "./optimistic-transaction.js";
import { reportDuplicates, reportTooMany } from "./request-body.js";
import { writableAccounts } from "./writable-accounts.js";

/** The row as it is, only DELETING; from any state, so that a failed deletion can be tried again. */
function deletion(row: AccountRow): AccountUpdate {
  return {
    name: row.name,
    expectedVersion: row.version,
    expectedStatus: row.status,
    status: AccountStatus.DELETING,
    zoneId: row.zoneId,
    definition: row.definition,
    agentDefinition: row.agentDefinition,
    failedCount: row.failedCount,
  };
}

/**
 * DELETE /armory/accounts: marks the accounts DELETING, all or nothing; the hub removes each row
 * once its holders let go. A deleted migrated account is Clouddriver's again (its row there was
 * never touched).
 */
export async function deleteAccounts(context: AccountContext, names: readonly string[]): Promise<void> {
  const problems = noProblems();
  if (names.length === 0) problems.fields.push({ field: "body", reason: "expected a non-empty JSON array of account names" });
  if (reportTooMany(names.length, problems)) throwIfInvalid(problems);
  names.forEach((name, i) => {
    const problem = nameProblem(name);
    if (problem !== undefined) problems.fields.push({ field: `[${i}]`, reason: problem });
  });
  reportDuplicates(names, problems);
  throwIfInvalid(problems);

  await inAccountTransaction(context.database, async (tx) => {
    const store = createAccountStore(tx);
    const found = await writableAccounts(
      store,
      names.map((name) => ({ name })),
      "deleted",
    );
    await store.applyUpdates(found.map(({ row }) => deletion(row)));
  }, transactionOptions(context));

  context.logger.info({ deleted: names.length }, "accounts marked for deletion");
  await notifyHub(
    context,
    names.map((name) => ({ name, kind: "delete" })),
  );
}
