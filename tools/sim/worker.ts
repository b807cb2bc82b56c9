/**
 * Entry point of a simulator worker process (forked by the coordinator): plays a share of the
 * agents and of the operations load, and talks to the coordinator over IPC.
 */
import { createWorkerHost } from "./worker-host.js";
import type { FromWorker, ToWorker } from "./worker-protocol.js";

if (process.send === undefined) {
  process.stderr.write("sim worker: must be started by the simulator (no IPC channel)\n");
  process.exit(2);
}

const host = createWorkerHost(
  (message: FromWorker) => process.send!(message),
  () => process.disconnect(),
);
process.on("message", (message: ToWorker) => host.handle(message));
// The coordinator going away means the run is over: do not linger as an orphan holding streams.
process.on("disconnect", () => process.exit(0));
