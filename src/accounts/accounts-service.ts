// PLACEHOLDER: replaced by the accounts API work (issue 3, item 6).
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { AccountsService } from "../../gen/agenthub/v1/accounts_pb.js";
import type { HubConfig } from "../config/config.js";
import type { Logger } from "../log/logger.js";
import type { Database } from "../store/database.js";
import type { AccountReconciler } from "../hub/reconciler.js";

export interface AccountsServiceDeps {
  database: Database;
  config: HubConfig;
  reconciler: AccountReconciler;
  logger: Logger;
}

/** The Dynamic Accounts API handlers (design section 8). */
export function createAccountsService(deps: AccountsServiceDeps): Partial<ServiceImpl<typeof AccountsService>> {
  void deps;
  return {
    listAccounts() {
      throw new ConnectError("not yet", Code.Unimplemented);
    },
  };
}
