/**
 * Entry point of a simulator worker process (forked by the coordinator): plays a share of the
 * agents and of the operations load, and talks to the coordinator over IPC.
 */
import { ConnectError } from "@connectrpc/connect";
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
// connect-node's session manager destroys a session whose keepalive PING went unanswered with an
// error that nothing listens for; on a starved machine that ended whole workers (2,500 agents).
// The stream on that session fails on its own and the agent redials, so only that error is
// survived; anything else still ends the worker.
process.on("uncaughtException", (err) => {
  if (err instanceof ConnectError && err.rawMessage === "PING timed out") return;
  process.stderr.write(`sim worker: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
