import type { MessageInitShape } from "@bufbuild/protobuf";
import type { AgentViewSchema, ListAccountsResponseSchema } from "../../gen/agenthub/v1/accounts_pb.js";
import { createClouddriverAccounts } from "../clouddriver/clouddriver-accounts.js";
import { accountFilterConditions, type AccountFilter } from "../store/account-filter.js";
import { createAccountStore } from "../store/account-store.js";
import type { Database } from "../store/database.js";
import { nameProblem } from "./account-names.js";
import { accountView, clouddriverOnlyView, type AccountViewInit } from "./account-view.js";
import type { Paging } from "./paging.js";

/** The read side of the accounts API. Reads run outside transactions: a page and its total may be a moment apart. */
export interface AccountReads {
  /** GET /armory/accounts: one page of the static and hub-stored accounts `filter` selects, in byte order of names. */
  list(paging: Paging, filter?: AccountFilter): Promise<MessageInitShape<typeof ListAccountsResponseSchema>>;
  /** GET /armory/accounts/{name}: a stored account, else one only Clouddriver has (TO_MIGRATE). */
  get(name: string): Promise<AccountViewInit | undefined>;
  /** GET /agents/kubernetes/accounts/{name}: a stored account (hub-stored or static) only. */
  getStored(name: string): Promise<AccountViewInit | undefined>;
  /** GET /armory/agents: connected agents (of one zone when given) with their account counts. */
  listAgents(zoneId?: string): Promise<MessageInitShape<typeof AgentViewSchema>[]>;
}

/** Creates the reads over `database`; Clouddriver's table is in `clouddriverSchema`. */
export function createAccountReads(database: Database, clouddriverSchema: string): AccountReads {
  const store = createAccountStore(database.db);

  const getStored = async (name: string) => {
    // A name that breaks the naming rules cannot exist, and some (NUL) cannot even be queried.
    if (nameProblem(name) !== undefined) return undefined;
    const row = await store.findByName(name);
    if (row === undefined) return undefined;
    const holders = await store.holdersOf([name]);
    return accountView(row, holders.get(name) ?? []);
  };

  return {
    async list({ page, limit, offset }, filter = {}) {
      const { rows, total } = await store.listPage(offset, limit, accountFilterConditions(filter));
      const holders = await store.holdersOf(rows.map((r) => r.name));
      return { items: rows.map((r) => accountView(r, holders.get(r.name) ?? [])), page, limit, total };
    },

    async get(name) {
      const stored = await getStored(name);
      if (stored !== undefined) return stored;
      if (nameProblem(name) !== undefined) return undefined;
      const only = await createClouddriverAccounts(database.db, clouddriverSchema).findByName(name);
      return only === undefined ? undefined : clouddriverOnlyView(only);
    },

    getStored,

    async listAgents(zoneId) {
      const agents = await store.listAgents(zoneId);
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
