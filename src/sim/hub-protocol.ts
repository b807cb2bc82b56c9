import type { HistogramData } from "./histogram.js";

/** Simulator → local hub process. */
export type ToHub = { type: "sql"; id: number; text: string; repeat: number } | { type: "stop" };

/** Local hub process → simulator. */
export type FromHub =
  | { type: "listening"; port: number; agentPort: number | undefined }
  | { type: "sqlDone"; id: number; latency: HistogramData; rows: number }
  | { type: "sqlFailed"; id: number; message: string };
