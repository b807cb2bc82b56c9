// PLACEHOLDER: replaced by the agent hub work (issue 4).
import type { ServiceImpl } from "@connectrpc/connect";
import type { AgentService } from "../../gen/agenthub/v1/agent_pb.js";
import type { OperationService } from "../../gen/agenthub/v1/operations_pb.js";
import type { HubConfig } from "../config/config.js";
import type { Logger } from "../log/logger.js";
import type { Database } from "../store/database.js";
import type { AccountChange, AccountReconciler } from "./reconciler.js";

export interface HubDeps {
  database: Database;
  config: HubConfig;
  logger: Logger;
  hubId: string;
  /** Aborts when the process shuts down: streams end and the hub releases what its agents held. */
  shutdown: AbortSignal;
}

/** The agent hub: live streams, assignment engine, roles, fallback, operations. */
export interface Hub extends AccountReconciler {
  agentService: Partial<ServiceImpl<typeof AgentService>>;
  operationService: Partial<ServiceImpl<typeof OperationService>>;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Creates the hub. */
export function createHub(deps: HubDeps): Hub {
  void deps;
  return {
    agentService: {},
    operationService: {},
    async accountsChanged(changes: AccountChange[]) {
      void changes;
    },
    async start() {},
    async close() {},
  };
}
