import { monitorEventLoopDelay } from "node:perf_hooks";
import { collectDefaultMetrics, Gauge, Registry } from "prom-client";

/** Quantiles of `agenthub_event_loop_delay_seconds`; 1 is the maximum. */
const QUANTILES = [0.5, 0.9, 0.99, 1] as const;

let shared: Registry | undefined;

/**
 * The process-wide metrics: prom-client's default Node metrics and the event loop delay. One
 * registry per process however many hubs it runs (tests start dozens), so that their monitors
 * and GC observers are created once.
 */
export function processMetrics(): Registry {
  if (shared !== undefined) return shared;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  new Gauge({
    name: "agenthub_event_loop_delay_seconds",
    help: "Event loop delay since the previous scrape (quantile 1 = maximum): how late timers and I/O callbacks ran",
    labelNames: ["quantile"],
    registers: [registry],
    collect() {
      for (const q of QUANTILES) {
        const ns = delay.count === 0 ? 0 : q === 1 ? delay.max : delay.percentile(q * 100);
        this.set({ quantile: String(q) }, ns / 1e9);
      }
      delay.reset();
    },
  });
  shared = registry;
  return registry;
}
