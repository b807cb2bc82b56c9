import type { JsonObject } from "@bufbuild/protobuf";
import { createRestClient, RestError, type RestClient } from "./rest-client.js";

/** An account as GET /armory/accounts shows it (the fields the simulator reads). */
export interface AccountJson {
  name: string;
  status: string;
  zoneId: string;
  agents: { agentId: string; caching: boolean }[];
  lastAssignmentMsg: string;
}

/** An agent as GET /armory/agents shows it. */
export interface AgentJson {
  agentId: string;
  zoneId: string;
  accounts: number;
  caching: number;
}

/** The hub's REST API as the simulator uses it; unexpected statuses throw RestError. */
export interface HubApi {
  /** POST /armory/accounts/dynamic with an array; returns the 409 conflicts (empty on 202). */
  createAccounts(definitions: JsonObject[]): Promise<string[]>;
  /** PATCH /armory/accounts with `state` for every name. */
  setState(names: string[], state: "ACTIVE" | "INACTIVE"): Promise<void>;
  /** Every account, page by page (limit 1000). */
  listAll(): Promise<AccountJson[]>;
  /** One page of the list, with extra query parameters (filters) when given; returns the parsed body. */
  listPage(page: number, limit: number, query?: string): Promise<{ items: AccountJson[]; total: number }>;
  getAccount(name: string): Promise<AccountJson | undefined>;
  listAgents(): Promise<AgentJson[]>;
  close(): void;
}

/** Creates the API client for a loopback hub URL. */
export function createHubApi(url: string, sockets = 8): HubApi {
  const rest: RestClient = createRestClient(url, sockets);
  const listPage = async (page: number, limit: number, query = "") => {
    const res = await rest.call("GET", `/armory/accounts?page=${page}&limit=${limit}${query === "" ? "" : `&${query}`}`);
    if (res.status !== 200) throw new RestError(res.status, res.body, "GET /armory/accounts");
    return res.body as { items: AccountJson[]; total: number };
  };
  return {
    async createAccounts(definitions) {
      const res = await rest.call("POST", "/armory/accounts/dynamic", definitions);
      if (res.status === 202) return [];
      if (res.status === 409 && Array.isArray(res.body)) return res.body as string[];
      throw new RestError(res.status, res.body, "POST /armory/accounts/dynamic");
    },
    async setState(names, state) {
      const res = await rest.call(
        "PATCH",
        "/armory/accounts",
        names.map((name) => ({ name, state })),
      );
      if (res.status !== 202) throw new RestError(res.status, res.body, `PATCH /armory/accounts ${state}`);
    },
    listPage,
    async listAll() {
      const all: AccountJson[] = [];
      for (let page = 1; ; page++) {
        const { items, total } = await listPage(page, 1000);
        all.push(...items);
        if (items.length === 0 || all.length >= total) return all;
      }
    },
    async getAccount(name) {
      const res = await rest.call("GET", `/armory/accounts/${encodeURIComponent(name)}`);
      if (res.status === 404) return undefined;
      if (res.status !== 200) throw new RestError(res.status, res.body, `GET /armory/accounts/${name}`);
      return res.body as AccountJson;
    },
    async listAgents() {
      const res = await rest.call("GET", "/armory/agents");
      if (res.status !== 200) throw new RestError(res.status, res.body, "GET /armory/agents");
      return res.body as AgentJson[];
    },
    close: () => rest.close(),
  };
}
