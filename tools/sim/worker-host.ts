import { wallNow } from "./clock.js";
import { createAgentPool, type AgentPool } from "./agent-pool.js";
import { runOperations } from "./ops-driver.js";
import type { FromWorker, ToWorker } from "./worker-protocol.js";

/** How often a worker ships its batched events. */
const FLUSH_MS = 100;

/**
 * The worker side of the protocol, independent of how messages travel: a forked process wires
 * it to `process.send`, the in-process mode (tests, `--workers 0`) to a function call.
 */
export interface WorkerHost {
  handle(message: ToWorker): void;
}

/** Creates a host that sends its replies and events through `send`. */
export function createWorkerHost(send: (message: FromWorker) => void, onStopped: () => void): WorkerHost {
  let pool: AgentPool | undefined;
  let flusher: NodeJS.Timeout | undefined;
  const flush = () => {
    if (pool === undefined) return;
    const batch = pool.drain();
    if (batch.welcomed.length + batch.cachingGained.length + batch.cachingLost.length + batch.streamsEnded.length + batch.operationsServed + Object.keys(batch.errors).length > 0) {
      send({ type: "events", batch });
    }
  };
  const fail = (err: unknown) => send({ type: "failed", message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  return {
    handle(message) {
      switch (message.type) {
        case "start":
          pool = createAgentPool(message.pool, wallNow);
          flusher = setInterval(flush, FLUSH_MS);
          send({ type: "dialing", at: wallNow() });
          pool.start();
          return;
        case "kill":
          send({ type: "killed", id: message.id, killed: pool?.kill(message.agentIds) ?? [] });
          return;
        case "bounce":
          pool?.bounce(message.agentId, message.downtimeMs);
          return;
        case "ops":
          // Events go out before the reply, so the coordinator's counts include every answer.
          runOperations(message.options).then((result) => {
            flush();
            send({ type: "opsDone", id: message.id, result });
          }, fail);
          return;
        case "stop":
          clearInterval(flusher);
          (pool?.stop() ?? Promise.resolve()).then(() => {
            flush();
            send({ type: "stopped", id: message.id });
            onStopped();
          }, fail);
          return;
      }
    },
  };
}
