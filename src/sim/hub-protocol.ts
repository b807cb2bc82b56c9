import type { HistogramData } from "./histogram.js";

/** Simulator → local hub process. */
export type ToHub = { type: "sql"; id: number; text: string; repeat: number } | { type: "loop"; id: number } | { type: "stop" };

/** Event-loop delay of the hub since the previous reading (perf_hooks.monitorEventLoopDelay), in ms. */
export interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
}

/** The hub's database work since the previous reading (PostgreSQL only; zeros on PGlite). */
export interface DatabaseWork {
  statements: number;
  notifies: number;
  ms: number;
}

/** Local hub process → simulator. */
export type FromHub =
  | { type: "listening"; port: number; agentPort: number | undefined }
  | { type: "sqlDone"; id: number; latency: HistogramData; rows: number }
  | { type: "sqlFailed"; id: number; message: string }
  | { type: "loopDelay"; id: number; delay: LoopDelay; work: DatabaseWork };
