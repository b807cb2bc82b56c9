import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { systemClock, type Clock } from "../../../src/hub/clock.js";

/**
 * A scripted scale agent written from design section 5 alone, with @grpc/grpc-js and
 * @grpc/proto-loader over `proto/agenthub/v1/agent.proto`: an independent implementation of the
 * wire contract, not the hub's generated code. It connects, says hello, records every message,
 * answers account messages and operations as told, and sends heartbeats at the interval the
 * hub's welcome asks for.
 */

const protoRoot = join(dirname(fileURLToPath(import.meta.url)), "../../../proto");
const definition = protoLoader.loadSync("agenthub/v1/agent.proto", {
  includeDirs: [protoRoot],
  keepCase: false,
  defaults: true,
  oneofs: true,
  enums: String,
  longs: Number,
});

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
/** google.protobuf.Struct as proto-loader reads and writes it. */
interface StructValue {
  kind?: string;
  nullValue?: string;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: { fields?: Record<string, StructValue> };
  listValue?: { values?: StructValue[] };
}

function fromValue(v: StructValue): Json {
  switch (v.kind) {
    case "numberValue":
      return v.numberValue ?? 0;
    case "stringValue":
      return v.stringValue ?? "";
    case "boolValue":
      return v.boolValue ?? false;
    case "structValue":
      return fromStruct(v.structValue);
    case "listValue":
      return (v.listValue?.values ?? []).map(fromValue);
    default:
      return null;
  }
}

/** Struct → plain JSON object. */
export function fromStruct(s: { fields?: Record<string, StructValue> } | null | undefined): { [key: string]: Json } {
  const out: { [key: string]: Json } = {};
  for (const [k, v] of Object.entries(s?.fields ?? {})) out[k] = fromValue(v);
  return out;
}

function toValue(v: Json): StructValue {
  if (v === null) return { nullValue: "NULL_VALUE" };
  if (typeof v === "number") return { numberValue: v };
  if (typeof v === "string") return { stringValue: v };
  if (typeof v === "boolean") return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toValue) } };
  return { structValue: toStruct(v) };
}

/** Plain JSON object → Struct. */
export function toStruct(o: { [key: string]: Json }): { fields: Record<string, StructValue> } {
  return { fields: Object.fromEntries(Object.entries(o).map(([k, v]) => [k, toValue(v)])) };
}

/** One account of an AddAccounts/SaveAccounts message. */
export interface ReceivedAssignment {
  name: string;
  config: { [key: string]: Json };
  caching: boolean;
  zoneId: string;
}

/** A message from the hub, in plain form. */
export type Received =
  | { kind: "welcome"; requestId: string; hubId: string; heartbeatIntervalMs: number; rejected: string[] }
  | { kind: "add"; requestId: string; fallbackFromZone: string; assignments: ReceivedAssignment[] }
  | { kind: "save"; requestId: string; fallbackFromZone: string; assignments: ReceivedAssignment[] }
  | { kind: "delete"; requestId: string; names: string[] }
  | { kind: "operation"; requestId: string; operationId: string; account: string; opKind: string; payload: { [key: string]: Json } };

export type OutcomeName = "OK" | "UNREACHABLE" | "ERROR";

/** How the agent answers an account message: an outcome with a message, or "silent" (no answer). */
export type AccountAnswer = { outcome: OutcomeName; message?: string } | "silent";

/** How the agent answers an operation: an outcome, message and result, or "silent". */
export type OperationAnswer = { outcome: OutcomeName; message?: string; result?: { [key: string]: Json } } | "silent";

export interface TestAgentOptions {
  /** host:port of the hub. */
  target: string;
  agentId: string;
  zoneId: string;
  staticAccounts?: { name: string; config: { [key: string]: Json } }[];
  version?: string;
  labels?: Record<string, string>;
  /** Answer for an account of an AddAccounts/SaveAccounts/DeleteAccounts (default OK). */
  onAccount?: (account: string, kind: "add" | "save" | "delete", assignment: ReceivedAssignment | undefined) => AccountAnswer;
  /** Answer for an operation (default OK echoing the payload). */
  onOperation?: (op: Extract<Received, { kind: "operation" }>, agentId: string) => OperationAnswer | Promise<OperationAnswer>;
  /** Send heartbeats at the welcome's interval (default true). */
  heartbeats?: boolean;
  /** Times the heartbeats: the real clock unless the test drives the hub's clock (then the agent keeps to it too). */
  clock?: Pick<Clock, "every">;
  /** The first message to send instead of hello (for protocol tests); null sends nothing at all. */
  firstMessage?: Record<string, unknown> | null;
  /** Channel credentials (TLS, call credentials); plaintext by default. */
  credentials?: grpc.ChannelCredentials;
  /** grpc-js channel options, e.g. `grpc.ssl_target_name_override`. */
  channelOptions?: grpc.ChannelOptions;
  /** Metadata sent with the call, e.g. `authorization` on a plaintext channel (grpc-js sends call credentials only over TLS). */
  metadata?: Record<string, string>;
  /** A connection of its own, as a separate agent pod has (grpc-js otherwise shares one between clients of a target). */
  ownConnection?: boolean;
}

export interface TestAgent {
  readonly agentId: string;
  readonly zoneId: string;
  readonly received: Received[];
  /** What the agent holds, from the messages it got: account → caching. */
  readonly holdings: Map<string, boolean>;
  /** Resolves with the stream's final status. */
  readonly ended: Promise<{ code: number; details: string }>;
  /** Waits for a received message matching `predicate` (including ones already received). */
  waitFor<K extends Received["kind"]>(kind: K, predicate?: (m: Extract<Received, { kind: K }>) => boolean, timeoutMs?: number): Promise<Extract<Received, { kind: K }>>;
  /** Sends a raw ConnectRequest (proto-loader JSON form). */
  send(message: Record<string, unknown>): void;
  /** Reports, unasked, that the agent lost the cluster of an account. */
  reportUnreachable(account: string, message: string): void;
  /** Stops sending heartbeats (the stream stays open: a hung agent). */
  stopHeartbeats(): void;
  /** Stops reading the hub's messages (HTTP/2 flow control then holds the hub back): an agent stuck on its side. */
  stopReading(): void;
  /** Half-closes the stream: the agent says goodbye. */
  end(): void;
  /** Cancels the call abruptly. */
  cancel(): void;
  /** Closes the gRPC channel. */
  close(): void;
}

type AgentClient = grpc.Client & { Connect(metadata?: grpc.Metadata): grpc.ClientDuplexStream<Record<string, unknown>, Record<string, unknown>> };
type ServiceCtor = new (target: string, credentials: grpc.ChannelCredentials, options: grpc.ChannelOptions) => AgentClient;

/** Connects a scripted agent and sends hello. */
export function connectTestAgent(options: TestAgentOptions): TestAgent {
  const pkg = grpc.loadPackageDefinition(definition) as unknown as { agenthub: { v1: { AgentService: ServiceCtor } } };
  const channelOptions = { ...(options.channelOptions ?? {}), ...(options.ownConnection === true ? { "grpc.use_local_subchannel_pool": 1 } : {}) };
  const client = new pkg.agenthub.v1.AgentService(options.target, options.credentials ?? grpc.credentials.createInsecure(), channelOptions);
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(options.metadata ?? {})) metadata.add(k, v);
  const call = client.Connect(metadata);
  const received: Received[] = [];
  const holdings = new Map<string, boolean>();
  const waiters = new Set<() => void>();
  const clock = options.clock ?? systemClock;
  let stopHeartbeat: (() => void) | undefined;
  let heartbeats = options.heartbeats ?? true;
  let open = true;

  const ended = new Promise<{ code: number; details: string }>((resolve) => {
    call.on("status", (s: grpc.StatusObject) => {
      open = false;
      stopHeartbeat?.();
      resolve({ code: s.code, details: s.details });
      for (const w of waiters) w();
    });
  });
  call.on("error", () => {
    // The status event carries what matters.
  });

  const write = (message: Record<string, unknown>) => {
    if (open) call.write(message);
  };
  const answerAccount = (requestId: string, account: string, kind: "add" | "save" | "delete", assignment?: ReceivedAssignment) => {
    const answer = options.onAccount?.(account, kind, assignment) ?? { outcome: "OK" };
    if (answer === "silent") return;
    if (answer.outcome === "OK") {
      if (kind === "delete") holdings.delete(account);
      else holdings.set(account, assignment?.caching ?? false);
    }
    write({ accountResult: { requestId, accountName: account, outcome: `OUTCOME_${answer.outcome}`, message: answer.message ?? "" } });
  };

  call.on("data", (raw: Record<string, unknown>) => {
    const requestId = String(raw.requestId ?? "");
    const msg = raw.msg as string;
    let m: Received;
    if (msg === "welcome") {
      const w = raw.welcome as { hubId: string; heartbeatIntervalMs: number; rejectedStaticAccounts: string[] };
      m = { kind: "welcome", requestId, hubId: w.hubId, heartbeatIntervalMs: w.heartbeatIntervalMs, rejected: w.rejectedStaticAccounts };
      if (heartbeats && w.heartbeatIntervalMs > 0) {
        stopHeartbeat = clock.every(w.heartbeatIntervalMs, () => write({ heartbeat: {} }));
      }
    } else if (msg === "addAccounts" || msg === "saveAccounts") {
      const body = raw[msg] as { assignments: { account: { name: string; config: never }; caching: boolean; zoneId: string }[]; fallbackFromZone?: string };
      m = {
        kind: msg === "addAccounts" ? "add" : "save",
        requestId,
        fallbackFromZone: body.fallbackFromZone ?? "",
        assignments: body.assignments.map((a) => ({ name: a.account.name, config: fromStruct(a.account.config), caching: a.caching, zoneId: a.zoneId })),
      };
    } else if (msg === "deleteAccounts") {
      m = { kind: "delete", requestId, names: (raw.deleteAccounts as { accountNames: string[] }).accountNames };
    } else {
      const op = raw.operation as { operationId: string; accountName: string; kind: string; payload: never };
      m = { kind: "operation", requestId, operationId: op.operationId, account: op.accountName, opKind: op.kind, payload: fromStruct(op.payload) };
    }
    received.push(m);
    for (const w of waiters) w();
    if (m.kind === "add" || m.kind === "save") for (const a of m.assignments) answerAccount(requestId, a.name, m.kind, a);
    else if (m.kind === "delete") for (const name of m.names) answerAccount(requestId, name, "delete");
    else if (m.kind === "operation") {
      const op = m;
      void Promise.resolve(options.onOperation?.(op, options.agentId) ?? { outcome: "OK" as const, result: { echo: op.payload, agent: options.agentId } }).then((answer) => {
        if (answer === "silent") return;
        write({
          operationResult: { operationId: op.operationId, outcome: `OUTCOME_${answer.outcome}`, message: answer.message ?? "", result: toStruct(answer.result ?? {}) },
        });
      });
    }
  });

  if (options.firstMessage !== null) write(
    options.firstMessage ?? {
      hello: {
        agentId: options.agentId,
        zoneId: options.zoneId,
        version: options.version ?? "test-1",
        labels: options.labels ?? {},
        staticAccounts: (options.staticAccounts ?? []).map((a) => ({ name: a.name, config: toStruct(a.config) })),
      },
    },
  );

  return {
    agentId: options.agentId,
    zoneId: options.zoneId,
    received,
    holdings,
    ended,
    waitFor(kind, predicate, timeoutMs = 5_000) {
      type M = Extract<Received, { kind: typeof kind }>;
      const find = () => received.find((m): m is M => m.kind === kind && (predicate === undefined || predicate(m as M)));
      const found = find();
      if (found !== undefined) return Promise.resolve(found);
      return new Promise<M>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`agent ${options.agentId}: no ${kind} message as expected within ${timeoutMs} ms; got ${JSON.stringify(received)}`));
        }, timeoutMs);
        const check = () => {
          const m = find();
          if (m === undefined) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(m);
        };
        waiters.add(check);
      });
    },
    send: write,
    reportUnreachable(account, message) {
      holdings.delete(account);
      write({ accountResult: { requestId: "", accountName: account, outcome: "OUTCOME_UNREACHABLE", message } });
    },
    stopHeartbeats() {
      heartbeats = false;
      stopHeartbeat?.();
    },
    stopReading() {
      call.pause();
    },
    end() {
      stopHeartbeat?.();
      call.end();
    },
    cancel() {
      stopHeartbeat?.();
      call.cancel();
    },
    close() {
      stopHeartbeat?.();
      call.cancel();
      client.close();
    },
  };
}
