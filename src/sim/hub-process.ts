/**
 * Entry point of a local hub started by the simulator (`--hub local`) or the benchmarks: a real
 * hub in a process of its own, so its RSS and CPU can be read apart from the simulator's. It
 * reports its ports over IPC and can time a raw SQL statement on its own database (the list
 * endpoint's ceiling), which is the only way to reach an in-process PGlite from outside.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { sql } from "drizzle-orm";
import { loadConfig } from "../config/config.js";
import { startApp } from "../server/app.js";
import { wallNow } from "./clock.js";
import { createHistogram } from "./histogram.js";
import type { FromHub, ToHub } from "./hub-protocol.js";

if (process.send === undefined) {
  process.stderr.write("sim hub: must be started by the simulator (no IPC channel)\n");
  process.exit(2);
}
const send = (m: FromHub) => process.send!(m);

const overrides = JSON.parse(process.env.SIM_HUB_OVERRIDES ?? "{}") as Record<string, unknown>;
const app = await startApp(loadConfig({ env: {}, overrides }));
// Design section 11: p99 event-loop delay is a benchmark figure; read and reset per phase.
const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();
let counted = { ...app.database.statementCounts(), at: wallNow() };
send({ type: "listening", port: app.port, agentPort: app.agentPort });

async function timeStatement(text: string, repeat: number) {
  const h = createHistogram();
  let rows = 0;
  for (let i = 0; i < repeat; i++) {
    const t = wallNow();
    rows = (await app.database.rows(sql.raw(text))).length;
    h.record(wallNow() - t);
  }
  return { latency: h.toData(), rows };
}

process.on("message", (m: ToHub) => {
  switch (m.type) {
    case "sql":
      timeStatement(m.text, m.repeat).then(
        (r) => send({ type: "sqlDone", id: m.id, ...r }),
        (err: unknown) => send({ type: "sqlFailed", id: m.id, message: err instanceof Error ? err.message : String(err) }),
      );
      return;
    case "loop": {
      const ms = (ns: number) => Math.round(ns / 1e5) / 10;
      const now = { ...app.database.statementCounts(), at: wallNow() };
      const work = { statements: now.statements - counted.statements, notifies: now.notifies - counted.notifies, ms: now.at - counted.at };
      counted = now;
      send({ type: "loopDelay", id: m.id, delay: { p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max) }, work });
      loop.reset();
      return;
    }
    case "stop":
      app.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
      return;
  }
});
// The simulator going away ends the hub too.
process.on("disconnect", () => {
  void app.close().finally(() => process.exit(0));
});
