import type { JsonObject, MessageInitShape } from "@bufbuild/protobuf";
import { ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { AgentService, Outcome, type Assignment, type ConnectRequestSchema } from "../../gen/agenthub/v1/agent_pb.js";
import { wallNow } from "./clock.js";
import { createMessageQueue } from "./message-queue.js";
import type { Reachability } from "./reachability.js";
import type { AgentSpec } from "./topology.js";

type RequestInit = MessageInitShape<typeof ConnectRequestSchema>;

/** What a simulated agent reports; the pool batches these for the coordinator. */
export interface AgentEvents {
  /** The hub answered hello with welcome; `connectMs` is from dialing to welcome. */
  welcomed(agentId: string, at: number, connectMs: number): void;
  /** The agent was told to cache `account` (it did not before). */
  cachingGained(account: string, agentId: string, at: number): void;
  /** The agent stopped caching `account`: told so, told to drop it, or its stream ended (it forgets what it held). */
  cachingLost(account: string, agentId: string, at: number): void;
  /** A stream the agent did not end itself ended, on the hub at `target` (an index into the agent's targets). */
  streamEnded(agentId: string, target: number, at: number): void;
  operationServed(): void;
  /** Something went wrong, by kind (e.g. `stream:14 no message from agent N for Ns`). */
  error(kind: string): void;
}

export interface SimAgentOptions {
  /**
   * The hub's agent URLs (replicas). The agent dials `targets[firstTarget]` and, after a stream
   * it did not end itself, the next one in turn: a pod behind a Service lands on another replica.
   */
  targets: readonly URL[];
  firstTarget: number;
  spec: AgentSpec;
  zoneIndex: number;
  reach: Reachability;
  /** How long the agent takes to run an operation. */
  opLatencyMs: number;
  /** Heartbeat interval; the hub's `welcome` value when undefined. */
  heartbeatMs: number | undefined;
  /** Delay before redialing after the hub ended the stream. */
  reconnectDelayMs: number;
  events: AgentEvents;
  /** Limits how many agents of a process dial at once, so the listen backlog does not overflow. */
  dialGate: () => Promise<() => void>;
}

/** One simulated agent pod: one HTTP/2 connection, one Connect stream, redialed until stopped. */
export interface SimAgent {
  readonly agentId: string;
  start(): void;
  /** Crashes the agent (its connection is destroyed) and keeps it down. Returns what it cached. */
  kill(): string[];
  /** Drops the connection and redials after `downtimeMs` (churn). */
  bounce(downtimeMs: number): void;
  /** Closes the connection for good and waits for the stream to end. */
  stop(): Promise<void>;
  isConnected(): boolean;
  cachedAccounts(): string[];
}

const AGENT_VERSION = "agent-hub-sim/1";

/** Creates a stopped agent; `start` dials. */
export function createSimAgent(options: SimAgentOptions): SimAgent {
  const { spec, events } = options;
  /** Accounts held, with the caching role. */
  const held = new Map<string, boolean>();
  let state: "idle" | "running" | "down" | "killed" | "stopped" = "idle";
  // Which stream is the agent's own: a bounce disowns the current one at once, though its
  // messages may still be read (and its end seen) after the agent is running again.
  let generation = 0;
  let connected = false;
  let session: Http2SessionManager | undefined;
  let finished: Promise<void> = Promise.resolve();
  let redial: NodeJS.Timeout | undefined;
  let targetIndex = options.firstTarget % options.targets.length;
  /** Forgets every role (a real agent forgets its assignments when its stream ends; the hub re-sends them). */
  const forgetAll = (at: number) => {
    for (const [name, caching] of held) if (caching) events.cachingLost(name, spec.agentId, at);
    held.clear();
  };

  const answerAssignments = (send: (m: RequestInit) => void, requestId: string, assignments: Assignment[]) => {
    for (const a of assignments) {
      const name = a.account?.name ?? "";
      const config: JsonObject | undefined = a.account?.config;
      if (options.reach.reaches(options.zoneIndex, name, config)) {
        const wasCaching = held.get(name) === true;
        held.set(name, a.caching);
        if (a.caching && !wasCaching) events.cachingGained(name, spec.agentId, wallNow());
        if (!a.caching && wasCaching) events.cachingLost(name, spec.agentId, wallNow());
        send({ msg: { case: "accountResult", value: { requestId, accountName: name, outcome: Outcome.OK } } });
      } else {
        if (held.get(name) === true) events.cachingLost(name, spec.agentId, wallNow());
        held.delete(name);
        const cluster = typeof config?.simCluster === "string" ? config.simCluster : "?";
        const message = `dial tcp ${cluster}.sim:6443: i/o timeout (zone ${spec.zoneId} cannot reach cluster ${cluster})`;
        send({ msg: { case: "accountResult", value: { requestId, accountName: name, outcome: Outcome.UNREACHABLE, message } } });
      }
    }
  };

  async function runStream(): Promise<void> {
    const release = await options.dialGate();
    // Stopped or killed while waiting for a permit: dialing now would open a stream nobody ends
    // (stop() aborted the session before this one existed), and the run would never finish.
    if (state !== "running") {
      release();
      return;
    }
    let released = false;
    const releaseOnce = () => {
      if (!released) release();
      released = true;
    };
    const mine = generation;
    const dialed = targetIndex;
    const target = options.targets[dialed]!;
    const manager = new Http2SessionManager(target, { pingIntervalMs: 60_000 });
    session = manager;
    const client = createClient(AgentService, createGrpcTransport({ baseUrl: target.toString(), sessionManager: manager }));
    const queue = createMessageQueue<RequestInit>();
    const send = (m: RequestInit) => queue.push(m);
    let heartbeat: NodeJS.Timeout | undefined;
    const dialedAt = wallNow();
    send({
      msg: {
        case: "hello",
        value: { agentId: spec.agentId, zoneId: spec.zoneId, staticAccounts: spec.staticAccounts, version: AGENT_VERSION, labels: { sim: "true" } },
      },
    });
    try {
      for await (const res of client.connect(queue)) {
        // Bounced or killed: what was still on the wire is not read (the agent already let go).
        if (state !== "running" || mine !== generation) break;
        switch (res.msg.case) {
          case "welcome": {
            connected = true;
            releaseOnce();
            const at = wallNow();
            events.welcomed(spec.agentId, at, at - dialedAt);
            const every = options.heartbeatMs ?? (res.msg.value.heartbeatIntervalMs || 20_000);
            heartbeat = setInterval(() => send({ msg: { case: "heartbeat", value: {} } }), every);
            break;
          }
          case "addAccounts":
          case "saveAccounts":
            answerAssignments(send, res.requestId, res.msg.value.assignments);
            break;
          case "deleteAccounts":
            for (const name of res.msg.value.accountNames) {
              if (held.get(name) === true) events.cachingLost(name, spec.agentId, wallNow());
              held.delete(name);
              send({ msg: { case: "accountResult", value: { requestId: res.requestId, accountName: name, outcome: Outcome.OK } } });
            }
            break;
          case "operation": {
            const op = res.msg.value;
            const answer = () => {
              events.operationServed();
              send({
                msg: {
                  case: "operationResult",
                  value: { operationId: op.operationId, outcome: Outcome.OK, message: "", result: { agentId: spec.agentId, echo: op.payload ?? {} } },
                },
              });
            };
            if (options.opLatencyMs > 0) setTimeout(answer, options.opLatencyMs);
            else answer();
            break;
          }
          default:
            events.error("unknown-message");
        }
      }
      if (state === "running" && mine === generation) events.error("stream:closed-by-hub");
    } catch (err) {
      if (state === "running" && mine === generation) events.error(streamErrorKind(ConnectError.from(err)));
    } finally {
      releaseOnce();
      connected = false;
      clearInterval(heartbeat);
      queue.close();
      manager.abort();
      forgetAll(wallNow());
    }
    if (state === "running" && mine === generation) {
      events.streamEnded(spec.agentId, dialed, wallNow());
      targetIndex = (dialed + 1) % options.targets.length;
      scheduleDial(options.reconnectDelayMs);
    }
  }

  function scheduleDial(delayMs: number) {
    redial = setTimeout(() => {
      redial = undefined;
      if (state !== "running") return;
      finished = runStream();
    }, delayMs);
  }

  return {
    agentId: spec.agentId,
    start() {
      if (state === "running") return;
      state = "running";
      finished = runStream();
    },
    kill() {
      const cached = [...held].filter(([, caching]) => caching).map(([name]) => name);
      // A crashed pod caches nothing from this moment (its stream ends when the hub notices).
      forgetAll(wallNow());
      state = "killed";
      clearTimeout(redial);
      session?.abort();
      return cached;
    },
    bounce(downtimeMs) {
      if (state !== "running") return;
      state = "down";
      generation++;
      // The agent drops its own connection: it stops caching now, not when its stream's end has been read.
      forgetAll(wallNow());
      session?.abort();
      setTimeout(() => {
        if (state !== "down") return;
        state = "running";
        void finished.then(() => {
          if (state === "running") finished = runStream();
        });
      }, downtimeMs);
    },
    async stop() {
      state = "stopped";
      clearTimeout(redial);
      session?.abort();
      await finished;
    },
    isConnected: () => connected,
    cachedAccounts: () => [...held].filter(([, caching]) => caching).map(([name]) => name),
  };
}

/**
 * `stream:<code> <message>`, the message without numbers (agent ids, durations) so that streams
 * ended for one reason count as one kind: the code alone does not say which side ended a stream
 * (Canceled is both an RST_STREAM CANCEL from the hub and a session the client aborted).
 */
function streamErrorKind(err: ConnectError): string {
  return `stream:${err.code} ${err.rawMessage.replace(/[0-9]+(\.[0-9]+)?/g, "N").slice(0, 80)}`;
}
