import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { AccountsService } from "../../gen/agenthub/v1/accounts_pb.js";
import { principalKey, scopeOf, type AccountScope } from "../auth/principal.js";
import type { HubConfig } from "../config/config.js";
import type { AccountReconciler } from "../hub/reconciler.js";
import type { Logger } from "../log/logger.js";
import { setHttpStatus } from "../rest/http-status.js";
import type { Database } from "../store/database.js";
import { callContext, type AccountContext } from "./account-context.js";
import { createAccountReads } from "./account-reads.js";
import { createAccounts } from "./create-accounts.js";
import { deleteAccounts } from "./delete-accounts.js";
import { listFilter } from "./list-filter.js";
import { migrateAccounts } from "./migrate-accounts.js";
import { paging } from "./paging.js";
import { putAccount } from "./put-account.js";
import { bodyJson } from "./request-body.js";
import { setAccountStates } from "./set-account-states.js";

export interface AccountsServiceDeps {
  database: Database;
  config: HubConfig;
  reconciler: AccountReconciler;
  logger: Logger;
}

/**
 * The Dynamic Accounts API handlers (design section 8), served over gRPC, Connect and, through
 * the transcoder, REST. Write handlers answer REST with 202, or 409 with the conflicting names.
 */
export function createAccountsService(deps: AccountsServiceDeps): ServiceImpl<typeof AccountsService> {
  const { database, config, reconciler, logger } = deps;
  const context: AccountContext = { database, clouddriverSchema: config.clouddriver.schema, reconciler, logger };
  const reads = createAccountReads(database, config.clouddriver.schema);

  /** Runs a handler; an unexpected error becomes `internal` without leaking its text to the client. */
  async function handle<T>(method: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      if (err instanceof ConnectError) throw err;
      logger.error({ method, err }, "accounts API call failed");
      throw new ConnectError("internal error; the hub's log has the details", Code.Internal);
    }
  }

  /** What the caller may see; the auth interceptor has put the caller into the context. */
  const scope = (ctx: HandlerContext): AccountScope => scopeOf(ctx.values.get(principalKey));

  /** Every endpoint but the account and agent listings is off with `dynamicAccounts.enabled: false`. */
  function requireDynamicAccounts(): void {
    if (!config.dynamicAccounts.enabled) {
      throw new ConnectError("dynamic accounts are disabled (dynamicAccounts.enabled is false)", Code.Unimplemented);
    }
  }

  /** 202 when every account went through, 409 when some names conflicted (the rest still did). */
  function acceptedOrConflict(ctx: HandlerContext, conflicts: string[]): { conflicts: string[] } {
    setHttpStatus(ctx, conflicts.length === 0 ? 202 : 409);
    return { conflicts };
  }

  return {
    listAccounts(req, ctx) {
      return handle("ListAccounts", () => reads.list(paging(req.page, req.limit), scope(ctx), listFilter(req)));
    },

    getAccount(req, ctx) {
      return handle("GetAccount", async () => {
        const account = await reads.get(req.accountId, scope(ctx));
        if (account === undefined) throw new ConnectError(`account ${JSON.stringify(req.accountId)} not found`, Code.NotFound);
        return { account };
      });
    },

    migrateAccounts(req, ctx) {
      return handle("MigrateAccounts", async () => {
        requireDynamicAccounts();
        return acceptedOrConflict(ctx, await migrateAccounts(callContext(context, req.dryRun, ctx), bodyJson(req, "accounts")));
      });
    },

    setAccountStates(req, ctx) {
      return handle("SetAccountStates", async () => {
        requireDynamicAccounts();
        await setAccountStates(callContext(context, req.dryRun, ctx), bodyJson(req, "changes"));
        setHttpStatus(ctx, 202);
        return {};
      });
    },

    deleteAccounts(req, ctx) {
      return handle("DeleteAccounts", async () => {
        requireDynamicAccounts();
        await deleteAccounts(callContext(context, req.dryRun, ctx), req.names);
        setHttpStatus(ctx, 202);
        return {};
      });
    },

    createAccounts(req, ctx) {
      return handle("CreateAccounts", async () => {
        requireDynamicAccounts();
        return acceptedOrConflict(ctx, await createAccounts(callContext(context, req.dryRun, ctx), bodyJson(req, "accounts")));
      });
    },

    putAccount(req, ctx) {
      return handle("PutAccount", async () => {
        requireDynamicAccounts();
        return acceptedOrConflict(ctx, await putAccount(callContext(context, req.dryRun, ctx), bodyJson(req, "account")));
      });
    },

    getAgentAccount(req, ctx) {
      return handle("GetAgentAccount", async () => {
        requireDynamicAccounts();
        const account = await reads.getStored(req.name, scope(ctx));
        return account === undefined ? {} : { account };
      });
    },

    listAgents(req, ctx) {
      return handle("ListAgents", async () => ({ agents: await reads.listAgents(scope(ctx), req.zoneId) }));
    },

    getAccountHistory(req, ctx) {
      return handle("GetAccountHistory", async () => {
        const history = await reads.history(req.accountId, paging(req.page, req.limit), scope(ctx));
        if (history === undefined) throw new ConnectError(`account ${JSON.stringify(req.accountId)} not found`, Code.NotFound);
        return history;
      });
    },
  };
}
