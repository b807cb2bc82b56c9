import type { JsonObject, MessageInitShape } from "@bufbuild/protobuf";
import type { AgentViewSchema, GetAccountHistoryResponseSchema, ListAccountsResponseSchema } from "../../gen/agenthub/v1/accounts_pb.js";
import type { AccountScope } from "../auth/principal.js";
import { createClouddriverAccounts } from "../store/clouddriver-accounts.js";
import { createAccountEvents } from "../store/account-events.js";
import { accountFilterConditions, type AccountFilter } from "../store/account-filter.js";
import { accountScopePredicate } from "../store/account-scope.js";
import { createAccountStore } from "../store/account-store.js";
import type { Database } from "../store/database.js";
import { nameProblem } from "../model/account-names.js";
import { accountView, clouddriverOnlyView, type AccountViewInit } from "./account-view.js";
import type { Paging } from "./paging.js";

/**
 * The read side of the accounts API. Reads run outside transactions: a page and its total may be
 * a moment apart. Every read shows only what the caller's scope allows (design section 14):
 * accounts out of scope are not listed and read as absent.
 */
export interface AccountReads {
  /** GET /armory/accounts: one page of the static and hub-stored accounts `filter` selects within the scope, in byte order of names. */
  list(paging: Paging, scope: AccountScope, filter?: AccountFilter): Promise<MessageInitShape<typeof ListAccountsResponseSchema>>;
  /** GET /armory/accounts/{name}: a stored account, else one only Clouddriver has (TO_MIGRATE). */
  get(name: string, scope: AccountScope): Promise<AccountViewInit | undefined>;
  /** GET /agents/kubernetes/accounts/{name}: a stored account (hub-stored or static) only. */
  getStored(name: string, scope: AccountScope): Promise<AccountViewInit | undefined>;
  /** GET /armory/agents: connected agents (of the scope's zones, of one zone when given) with their account counts. */
  listAgents(scope: AccountScope, zoneId?: string): Promise<MessageInitShape<typeof AgentViewSchema>[]>;
  /** GET /armory/accounts/{name}/history: undefined when the account is out of scope or never existed. */
  history(name: string, paging: Paging, scope: AccountScope): Promise<MessageInitShape<typeof GetAccountHistoryResponseSchema> | undefined>;
}

/** Creates the reads over `database`; Clouddriver's table is in `clouddriverSchema`. */
export function createAccountReads(database: Database, clouddriverSchema: string): AccountReads {
  const store = createAccountStore(database.db);

  const events = createAccountEvents(database.db);
  const getStored = async (name: string, scope: AccountScope) => {
    // A name that breaks the naming rules cannot exist, and some (NUL) cannot even be queried.
    if (nameProblem(name) !== undefined) return undefined;
    const row = await store.findByName(name);
    if (row === undefined || !scope.allows(row.name, row.zoneId ?? "")) return undefined;
    const holders = await store.holdersOf([name]);
    return accountView(row, holders.get(name) ?? []);
  };

  return {
    async list({ page, limit, offset }, scope, filter = {}) {
      const inScope = accountScopePredicate(scope);
      const conditions = [...accountFilterConditions(filter), ...(inScope === undefined ? [] : [inScope])];
      const { rows, total } = await store.listPage(offset, limit, conditions);
      const holders = await store.holdersOf(rows.map((r) => r.name));
      return { items: rows.map((r) => accountView(r, holders.get(r.name) ?? [])), page, limit, total };
    },

    async get(name, scope) {
      const stored = await getStored(name, scope);
      if (stored !== undefined) return stored;
      if (nameProblem(name) !== undefined || (await store.findByName(name)) !== undefined) return undefined;
      const only = await createClouddriverAccounts(database.db, clouddriverSchema).findByName(name);
      if (only === undefined) return undefined;
      const view = clouddriverOnlyView(only);
      return scope.allows(name, view.zoneId ?? "") ? view : undefined;
    },

    getStored,

    async history(name, { page, limit, offset }, scope) {
      if (nameProblem(name) !== undefined || !scope.allowsName(name)) return undefined;
      // The zone it has now, or had when it was last changed (a deleted account's history stays readable).
      const zone = (await store.findByName(name))?.zoneId ?? (await events.lastZone(name));
      if (zone === undefined || !scope.allowsZone(zone ?? "")) return undefined;
      const { rows, total } = await events.page(name, offset, limit);
      const items = rows.map((r) => ({ at: r.at.toISOString(), actor: r.actor, action: r.action, status: r.status, fields: r.fields as JsonObject }));
      return { items, page, limit, total };
    },

    async listAgents(scope, zoneId) {
      const agents = (await store.listAgents(zoneId)).filter((a) => scope.allowsZone(a.zoneId));
      return agents.map((a) => ({
        agentId: a.agentId,
        zoneId: a.zoneId,
        hubId: a.hubId,
        accounts: a.accounts,
        caching: a.caching,
        connectedAt: a.connectedAt.toISOString(),
        lastHeartbeat: a.lastHeartbeat.toISOString(),
        version: a.version,
        labels: a.labels,
      }));
    },
  };
}
