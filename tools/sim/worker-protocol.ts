import type { AgentPoolOptions, EventBatch, KilledAgent } from "./agent-pool.js";
import type { LoadResult } from "./load-generator.js";
import type { OpsRunOptions } from "./ops-driver.js";

/** Coordinator → worker. `id` pairs a request with its reply. */
export type ToWorker =
  | { type: "start"; pool: AgentPoolOptions }
  | { type: "kill"; id: number; agentIds: string[] }
  | { type: "bounce"; agentId: string; downtimeMs: number }
  | { type: "ops"; id: number; options: OpsRunOptions }
  | { type: "stop"; id: number };

/** Worker → coordinator. */
export type FromWorker =
  | { type: "dialing"; at: number }
  | { type: "events"; batch: EventBatch }
  | { type: "killed"; id: number; killed: KilledAgent[] }
  | { type: "opsDone"; id: number; result: LoadResult }
  | { type: "stopped"; id: number }
  | { type: "failed"; message: string };
