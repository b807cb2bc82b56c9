import { Code, ConnectError } from "@connectrpc/connect";
import { toBinary } from "@bufbuild/protobuf";
import { ConnectResponseSchema, type Account, type ConnectResponse, type Hello } from "../../gen/agenthub/v1/agent_pb.js";
import { createOutbox, type Outbox } from "./outbox.js";

/** Messages queued for one agent before the hub gives up on it as too slow. */
export const OUTBOX_CAPACITY = 1024;
/** Operations may fill only half the outbox, so that account messages always have room. */
const OPERATION_LIMIT = OUTBOX_CAPACITY / 2;

/**
 * One agent stream, from `hello` until it ends. Kept small: thousands of them live at once, and
 * everything the hub knows about what the agent holds is in the database.
 */
export interface AgentSession {
  readonly agentId: string;
  /** "" when the agent has no zone (it then serves unpinned accounts only). */
  readonly zoneId: string;
  readonly version: string;
  readonly labels: Record<string, string>;
  /** The static accounts of `hello`, until the engine has registered them. */
  staticAccounts: Account[] | undefined;
  /** When the agent last sent anything (any message is a sign of life). */
  lastSeen: number;
  /**
   * True while the hub has stopped reading the stream to wait for room in the engine's queue:
   * the agent's messages sit unread then, so its silence is the hub's and is not judged.
   */
  readingPaused: boolean;
  /** When the last such pause ended (0: never paused): answers read after it may have waited behind it. */
  readingResumedAt: number;
  /** Caching roles the agent holds: the load that placement balances. Kept by the engine. */
  caching: number;
  readonly closed: boolean;
  /** In operator words, why the stream ended ("disconnected", "missed 3 heartbeats", ...). */
  readonly closeReason: string;
  /** The status the agent's stream ends with; undefined for a clean end. */
  readonly closeError: ConnectError | undefined;
  /** Once closed: ids of the operations still queued then, which the agent therefore never received. */
  readonly unsentOperations: ReadonlySet<string>;
  /** Queues an account message; an agent too slow to read them is closed. */
  send(message: ConnectResponse): boolean;
  /** Queues an operation while the outbox is at most half full; false otherwise. */
  sendOperation(message: ConnectResponse): boolean;
  /** The next message for the agent; undefined when the stream is to end. */
  next(): Promise<ConnectResponse | undefined>;
  /** Ends the stream (idempotent): the response generator stops and `onClose` runs once. */
  close(reason: string, error?: ConnectError): void;
}

const NONE: ReadonlySet<string> = new Set();

/** The size of a message on the wire, measured only for messages that must wait in an outbox. */
function wireSize(message: ConnectResponse): number {
  return toBinary(ConnectResponseSchema, message).length;
}

/**
 * Creates the session of a stream that has just sent `hello`; its outbox holds at most
 * OUTBOX_CAPACITY messages and `outboxBytes` bytes (`limits.agentOutboxBytes`), counting the bytes
 * `wireBacklog` says were written to the stream but not sent yet.
 */
export function createAgentSession(
  hello: Hello,
  now: number,
  onClose: (session: AgentSession) => void,
  outboxBytes = Infinity,
  wireBacklog: () => number = () => 0,
): AgentSession {
  const outbox: Outbox<ConnectResponse> = createOutbox(OUTBOX_CAPACITY, outboxBytes, wireSize);
  let closed = false;
  let closeReason = "";
  let closeError: ConnectError | undefined;
  let unsentOperations: ReadonlySet<string> = NONE;
  const session: AgentSession = {
    agentId: hello.agentId,
    zoneId: hello.zoneId,
    version: hello.version,
    labels: hello.labels,
    staticAccounts: hello.staticAccounts,
    lastSeen: now,
    readingPaused: false,
    readingResumedAt: 0,
    caching: 0,
    get closed() {
      return closed;
    },
    get closeReason() {
      return closeReason;
    },
    get closeError() {
      return closeError;
    },
    get unsentOperations() {
      return unsentOperations;
    },
    send(message) {
      // Written but unsent bytes count too: Node buffers writes of a stream the agent does not read.
      if (outbox.bytes + wireBacklog() <= outboxBytes && outbox.offer(message)) return true;
      session.close(
        "did not read its messages fast enough",
        new ConnectError(`agent ${hello.agentId} did not read its messages fast enough; reconnect`, Code.ResourceExhausted),
      );
      return false;
    },
    sendOperation: (message) => outbox.offer(message, OPERATION_LIMIT),
    next: () => outbox.take(),
    close(reason, error) {
      if (closed) return;
      closed = true;
      closeReason = reason;
      closeError = error;
      const dropped = outbox.close().filter((m) => m.msg.case === "operation");
      if (dropped.length > 0) unsentOperations = new Set(dropped.map((m) => m.requestId));
      onClose(session);
    },
  };
  return session;
}
