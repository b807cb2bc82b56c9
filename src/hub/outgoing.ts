import { create, type JsonObject, type MessageInitShape } from "@bufbuild/protobuf";
import { ConnectResponseSchema, type AssignmentSchema, type ConnectResponse } from "../../gen/agenthub/v1/agent_pb.js";
import { isStatic, type AccountDraft, type Intent } from "./account-draft.js";
import type { PendingRequest } from "./pending-requests.js";

/** Assignments per AddAccounts/SaveAccounts message: definitions can be large, gRPC messages should not be. */
const ASSIGNMENTS_PER_MESSAGE = 100;
/** Names per DeleteAccounts message. */
const NAMES_PER_MESSAGE = 1000;

/** A message for an agent, with the answers it asks for. */
export interface OutgoingMessage {
  message: ConnectResponse;
  pending: PendingRequest;
}

/**
 * The definition an agent gets: the `kubeconfigAgent` variant when the API stored one (it points
 * `kubeconfigFile` at a file on the agent and has no inline contents), else the definition as
 * stored. Inline secrets and `encrypted:` references go to agents unchanged (design section 5).
 */
function agentConfig(d: AccountDraft): JsonObject {
  const config = isStatic(d) ? d.definition : (d.stored.agentDefinition ?? d.definition);
  return config as JsonObject;
}

/** The role a message carries: the holder's, unless the intent says otherwise (a caching role being handed off). */
function roleOf(d: AccountDraft, agentId: string, intent: Intent): boolean {
  return intent.caching ?? d.holders.get(agentId) === true;
}

function assignment(d: AccountDraft, caching: boolean): MessageInitShape<typeof AssignmentSchema> {
  return { account: { name: d.name, config: agentConfig(d) }, caching, zoneId: d.zoneId ?? "" };
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < items.length; i += size) result.push(items.slice(i, i + size));
  return result;
}

/**
 * Turns one agent's intents into messages: SaveAccounts first (roles, updates, then each
 * fallback origin), AddAccounts, DeleteAccounts last. Intents whose account left the batch's
 * drafts, or whose agent no longer holds it, are skipped.
 */
export function messagesFor(agentId: string, intents: ReadonlyMap<string, Intent>, drafts: ReadonlyMap<string, AccountDraft>, nextId: () => string): OutgoingMessage[] {
  const saves = new Map<string, { d: AccountDraft; caching: boolean; demotion: boolean }[]>();
  const adds: { d: AccountDraft; caching: boolean; demotion: boolean }[] = [];
  const deletes: string[] = [];
  for (const [name, intent] of intents) {
    if (intent.kind === "delete") {
      deletes.push(name);
      continue;
    }
    const d = drafts.get(name);
    if (d === undefined || d.deleted || !d.holders.has(agentId)) continue;
    const caching = roleOf(d, agentId, intent);
    const demotion = intent.caching === false && d.holders.get(agentId) === true;
    if (intent.kind === "add") adds.push({ d, caching, demotion });
    else {
      const list = saves.get(intent.fallbackFrom) ?? [];
      list.push({ d, caching, demotion });
      saves.set(intent.fallbackFrom, list);
    }
  }
  const out: OutgoingMessage[] = [];
  const assigning = (kind: "add" | "save", list: { d: AccountDraft; caching: boolean; demotion: boolean }[], fallbackFrom: string) => {
    for (const chunk of chunks(list, ASSIGNMENTS_PER_MESSAGE)) {
      const requestId = nextId();
      const assignments = chunk.map((a) => assignment(a.d, a.caching));
      const message = create(ConnectResponseSchema, {
        requestId,
        msg: kind === "add" ? { case: "addAccounts", value: { assignments } } : { case: "saveAccounts", value: { assignments, fallbackFromZone: fallbackFrom } },
      });
      const demotions = new Set(chunk.filter((a) => a.demotion).map((a) => a.d.name));
      out.push({ message, pending: { agentId, kind, accounts: new Map(chunk.map((a) => [a.d.name, a.caching])), demotions } });
    }
  };
  for (const fallbackFrom of [...saves.keys()].sort()) assigning("save", saves.get(fallbackFrom) ?? [], fallbackFrom);
  assigning("add", adds, "");
  for (const chunk of chunks(deletes, NAMES_PER_MESSAGE)) {
    const requestId = nextId();
    const message = create(ConnectResponseSchema, { requestId, msg: { case: "deleteAccounts", value: { accountNames: chunk } } });
    out.push({ message, pending: { agentId, kind: "delete", accounts: new Map(chunk.map((name) => [name, false])) } });
  }
  return out;
}

/** The `welcome` that answers `hello`. */
export function welcome(hubId: string, heartbeatIntervalMs: number, rejected: readonly string[]): ConnectResponse {
  return create(ConnectResponseSchema, {
    requestId: "",
    msg: { case: "welcome", value: { hubId, heartbeatIntervalMs, rejectedStaticAccounts: [...rejected] } },
  });
}
