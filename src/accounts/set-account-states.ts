import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import type { AccountChange } from "../hub/reconciler.js";
import { createAccountStore, type AccountRow, type AccountUpdate } from "../store/account-store.js";
import { noProblems, requestError, throwIfInvalid, type NamesProblem } from "./api-errors.js";
import { applyOverrides, parseStateChanges, type StateChangeRequest } from "./account-changes.js";
import { notifyHub, transactionOptions, type AccountContext } from "./account-context.js";
import { agentDefinitionOf, zoneIdOf } from "./account-definition.js";
import { transitionFor, type StateTransition } from "./state-transitions.js";
import { inAccountTransaction } from "./optimistic-transaction.js";
import { writableAccounts } from "./writable-accounts.js";

type Accepted = Exclude<StateTransition, { kind: "refuse" }>;

/** The new row and what to tell the hub, for one accepted element of a PATCH. */
function plan(row: AccountRow, request: StateChangeRequest, transition: Accepted): { update: AccountUpdate; change: AccountChange | undefined } {
  const definition = applyOverrides(row.definition as JsonObject, request.overrides);
  const update: AccountUpdate = {
    name: row.name,
    expectedVersion: row.version,
    expectedStatus: row.status,
    status: transition.kind === "move" ? transition.status : row.status,
    zoneId: zoneIdOf(definition),
    definition,
    agentDefinition: agentDefinitionOf(definition),
    failedCount: request.state === "ACTIVE" ? 0 : row.failedCount,
  };
  if (transition.kind === "move") return { update, change: { name: row.name, kind: request.state === "ACTIVE" ? "activate" : "deactivate" } };
  // PATCH ACTIVE on ACTIVATING keeps the state; new fields still reach the hub as an update.
  const changed = JSON.stringify(definition) !== JSON.stringify(row.definition);
  return { update, change: changed ? { name: row.name, kind: "update" } : undefined };
}

/**
 * PATCH /armory/accounts (and /armory/accounts/dynamic): activates or deactivates accounts,
 * storing the given zoneId/kubeconfig fields, all or nothing. Writes the transient state
 * (ACTIVATING, TO_DEACTIVATE) and hands the accounts to the hub once committed.
 */
export async function setAccountStates(context: AccountContext, body: JsonValue | undefined): Promise<void> {
  const problems = noProblems();
  const requests = parseStateChanges(body, problems);
  throwIfInvalid(problems);

  const changes = await inAccountTransaction(context.database, async (tx) => {
    const store = createAccountStore(tx);
    const refused = new Map<string, NamesProblem>();
    const updates: AccountUpdate[] = [];
    const changes: AccountChange[] = [];
    for (const { item, row } of await writableAccounts(store, requests, "changed")) {
      const transition = transitionFor(row.status, item.state);
      if (transition.kind === "refuse") {
        const problem = refused.get(transition.reason) ?? { names: [], reason: transition.reason };
        problem.names.push(row.name);
        refused.set(transition.reason, problem);
        continue;
      }
      const { update, change } = plan(row, item, transition);
      updates.push(update);
      if (change !== undefined) changes.push(change);
    }
    if (refused.size > 0) throw requestError(Code.FailedPrecondition, { fields: [], names: [...refused.values()] });
    await store.applyUpdates(updates);
    return changes;
  }, transactionOptions(context));

  const activated = requests.filter((r) => r.state === "ACTIVE").length;
  context.logger.info({ activated, deactivated: requests.length - activated }, "account states changed");
  await notifyHub(context, changes);
}
