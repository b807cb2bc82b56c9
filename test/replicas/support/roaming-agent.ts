import { connectTestAgent, type TestAgent, type TestAgentOptions } from "../../hub/support/test-agent.js";

/**
 * An agent that, like a real one behind a Kubernetes Service, reconnects when its stream ends:
 * to the next hub of `targets` that accepts it (the dead replica's address is skipped).
 */
export interface RoamingAgent {
  readonly agentId: string;
  /** The current connection. */
  readonly current: TestAgent;
  /** The hub the agent is connected to now. */
  readonly target: string;
  /** Streams opened so far (1 until the first one ended). */
  readonly connections: number;
  /** Stops reconnecting and closes the stream. */
  close(): void;
}

/**
 * Connects to `targets[0]` and roams over `targets` on every stream end, after `redialMs()`;
 * `onEnded` hears of each end.
 */
export function connectRoamingAgent(
  targets: string[],
  options: Omit<TestAgentOptions, "target">,
  onEnded?: (agentId: string) => void,
  redialMs: () => number = () => 50,
): RoamingAgent {
  let index = 0;
  let closed = false;
  let connections = 1;
  let current = connectTestAgent({ ...options, target: targets[0]! });
  const watch = (agent: TestAgent) => {
    void agent.ended.then(() => {
      onEnded?.(options.agentId);
      if (closed) return;
      agent.close();
      index = (index + 1) % targets.length;
      // A pause, as an agent's reconnect backoff would make (50 ms unless told otherwise).
      setTimeout(() => {
        if (closed) return;
        current = connectTestAgent({ ...options, target: targets[index]! });
        connections++;
        watch(current);
      }, redialMs());
    });
  };
  watch(current);
  return {
    agentId: options.agentId,
    get current() {
      return current;
    },
    get target() {
      return targets[index]!;
    },
    get connections() {
      return connections;
    },
    close() {
      closed = true;
      current.close();
    },
  };
}
