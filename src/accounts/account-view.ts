import type { JsonObject, MessageInitShape } from "@bufbuild/protobuf";
import type { AccountViewSchema } from "../../gen/agenthub/v1/accounts_pb.js";
import type { ClouddriverAccount } from "../store/clouddriver-accounts.js";
import type { AccountRow, Holder } from "../store/account-store.js";
import { readClouddriverBody, zoneIdOf } from "./account-definition.js";
import { AccountSource, AccountStatus } from "../model/account-states.js";
import { redactDefinition } from "./redaction.js";

/** An account as the API shows it (design section 8, Account JSON). */
export type AccountViewInit = MessageInitShape<typeof AccountViewSchema>;

/** A stored account with its reachable holders; secret contents redacted. */
export function accountView(row: AccountRow, holders: readonly Holder[]): AccountViewInit {
  return {
    name: row.name,
    type: row.type === "" ? "kubernetes" : row.type,
    source: row.source,
    config: redactDefinition(row.definition as JsonObject),
    zoneId: row.zoneId ?? "",
    agents: holders.map((h) => ({ agentId: h.agentId, caching: h.caching })),
    status: row.status,
    lastAssignmentMsg: row.lastAssignmentMsg,
  };
}

/** An account only Clouddriver's table has, shown for inspection before migration (design section 4). */
export function clouddriverOnlyView(account: ClouddriverAccount): AccountViewInit {
  const definition = readClouddriverBody(account.name, account.body);
  return {
    name: account.name,
    type: "kubernetes",
    source: AccountSource.CLOUDDRIVER,
    config: redactDefinition(definition),
    zoneId: zoneIdOf(definition) ?? "",
    agents: [],
    status: AccountStatus.TO_MIGRATE,
    lastAssignmentMsg: "",
  };
}
