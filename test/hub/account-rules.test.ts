// The assignment rules (src/hub/account-rules.ts, static-accounts.ts, placement.ts) as rules: each
// row is a draft before, one event, and the draft after with the messages the batch would send.
// The batch is built as the engine builds it (engine-batch.ts): a real agent view over agents held
// by another replica (no sessions, no database), the event, then promote() as every batch ends.
// The scenario tests through a real hub (assignment, fallback, max-holders) stay the integration.
import { describe, expect, it } from "vitest";
import { Outcome } from "../../gen/agenthub/v1/agent_pb.js";
import { draftOf, holderList, promote, type AccountDraft, type AccountRuntime, type Batch, type RuleConfig, type StoredAccount } from "../../src/hub/account-draft.js";
import { activate, answerChangesNothing, answered, deactivate, holderGone, recover, resendTo, retry, updated, zoneGrew, type AccountAnswer } from "../../src/hub/account-rules.js";
import { createAgentRegistry } from "../../src/hub/agent-registry.js";
import { createAgentView } from "../../src/hub/agent-view.js";
import { messagesFor } from "../../src/hub/outgoing.js";
import { registerStatic, staticDropped } from "../../src/hub/static-accounts.js";
import { chooseHolders } from "../../src/hub/placement.js";
import { AccountSource, AccountStatus } from "../../src/model/account-states.js";

/** maxRetries 2: three rounds in all. */
const CONFIG: RuleConfig = { maxHolders: 3, maxRetries: 2, retryFrequencyMs: 5_000, cleanupAfterMs: 600_000 };

/** Agent ids name their zone: "a-1" is in zone a; "nozone-1" has no zone. */
const zoneOfId = (agentId: string): string => (agentId.startsWith("nozone-") ? "" : (agentId.split("-")[0] ?? ""));

/** "a-1*, a-2": holders by id, `*` marking the caching one. */
function parseHolders(text: string): Map<string, boolean> {
  const holders = new Map<string, boolean>();
  for (const part of text.split(",").map((p) => p.trim())) if (part !== "") holders.set(part.replace("*", ""), part.endsWith("*"));
  return holders;
}

function holdersText(d: AccountDraft): string {
  return holderList(d)
    .map((h) => `${h.agentId}${h.caching ? "*" : ""}`)
    .join(", ");
}

type Answer = "OK" | "UNREACHABLE" | "ERROR";
const OUTCOMES: Record<Answer, Outcome> = { OK: Outcome.OK, UNREACHABLE: Outcome.UNREACHABLE, ERROR: Outcome.ERROR };

/** What happens to the account, as the engine's batch hands it to a rule. */
type RuleEvent =
  | { rule: "activate" }
  | { rule: "deactivate"; deleting: boolean; reason?: string }
  | { rule: "updated" }
  | { rule: "retry" }
  | { rule: "recover"; why: string }
  /** `asked` defaults to "add"; the role the answered message carried is the holder's. */
  | { rule: "answer"; agent: string; outcome: Answer; asked?: AccountAnswer["asked"]; message?: string; demotion?: boolean }
  /** The agent is gone from the view already (the engine's view.leave runs first). */
  | { rule: "holderGone"; agent: string; reason: string }
  /** The agent is in the view already (the engine's view.join runs first). */
  | { rule: "zoneGrew"; agent: string }
  | { rule: "resendTo"; agent: string }
  /** Agents list the account in their hello's static accounts (their config is `{ name, kubeconfigFile }`). */
  | { rule: "register"; agents: string[] }
  /** The agent said hello again without the static account. */
  | { rule: "staticDropped"; agent: string };

interface Before {
  status: AccountStatus;
  /** The pinned zone; null for unpinned. */
  zone: string | null;
  holders?: string;
  source?: AccountSource;
  rt?: AccountRuntime;
  message?: string;
  failedCount?: number;
}

interface After {
  status: AccountStatus;
  holders: string;
  message: string;
  failedCount?: number;
  retryInMs?: number;
  deleted?: boolean;
  rt?: AccountRuntime;
}

interface Row {
  name: string;
  /** The connected agents the batch sees. */
  agents: string[];
  /** Roles the agents have on other accounts: what least-loaded and fewest-held choices compare. */
  load?: Record<string, { caching?: number; held?: number }>;
  config?: Partial<RuleConfig>;
  before: Before;
  event: RuleEvent;
  after: After;
  /** "a-1 add caching", "b-1 save operations (fallback from a)", "a-2 delete", "a-1 welcome rejects it". */
  send: string[];
}

const NAME = "acct";

function storedOf(before: Before): StoredAccount {
  return {
    name: NAME,
    source: before.source ?? AccountSource.CLOUDDRIVER,
    status: before.status,
    zoneId: before.zone,
    definition: { name: NAME, kubeconfigFile: "/k/config" },
    agentDefinition: null,
    lastAssignmentMsg: before.message ?? "",
    failedCount: before.failedCount ?? 0,
  };
}

/** One engine batch over one account: the view, the draft, the event, and the end-of-batch promotion. */
function runBatch(
  row: Pick<Row, "agents" | "load" | "config" | "event">,
  stored: StoredAccount,
  holders: Map<string, boolean>,
  rt: AccountRuntime | undefined,
): { b: Batch; welcomes: string[] } {
  const remote = row.agents.map((agentId) => ({
    agentId,
    zoneId: zoneOfId(agentId),
    hubId: "hub-2",
    caching: (row.load?.[agentId]?.caching ?? 0) + (holders.get(agentId) === true ? 1 : 0),
    held: (row.load?.[agentId]?.held ?? 0) + (holders.has(agentId) ? 1 : 0),
  }));
  const view = createAgentView(createAgentRegistry(), remote);
  const d = draftOf(stored, holders, rt);
  const b: Batch = { view, config: { ...CONFIG, ...row.config }, drafts: new Map([[d.name, d]]), intents: new Map() };
  const rejected = apply(b, d, row.event) ?? [];
  promote(b, d);
  return { b, welcomes: rejected.map((agentId) => `${agentId} welcome rejects it`) };
}

/** Applies the event's rule; returns the agents whose welcome rejects their static account. */
function apply(b: Batch, d: AccountDraft, e: RuleEvent): string[] | void {
  switch (e.rule) {
    case "activate":
      return activate(b, d);
    case "deactivate":
      return deactivate(b, d, e.deleting, e.reason);
    case "updated":
      return updated(b, d);
    case "retry":
      return retry(b, d);
    case "recover":
      return recover(b, d, e.why);
    case "answer":
      return answered(b, d, {
        agentId: e.agent,
        asked: e.asked ?? "add",
        sentCaching: e.demotion === true ? false : d.holders.get(e.agent),
        demotion: e.demotion ?? false,
        outcome: OUTCOMES[e.outcome],
        message: e.message ?? "",
      });
    case "holderGone":
      return holderGone(b, d, e.agent, zoneOfId(e.agent), e.reason);
    case "zoneGrew":
      return zoneGrew(b, d, e.agent);
    case "resendTo":
      return resendTo(b, d, e.agent);
    case "register":
      return registerStatic(
        b,
        d,
        e.agents.map((agentId) => ({ agentId, zone: zoneOfId(agentId), config: { name: NAME, kubeconfigFile: `/${agentId}/config` } })),
      ).map((r) => r.agentId);
    case "staticDropped":
      return staticDropped(b, d, e.agent, zoneOfId(e.agent));
  }
}

/** The messages the batch sends once committed, one line per account in each (outgoing.ts decides them). */
function sent(b: Batch): string[] {
  const lines: string[] = [];
  for (const [agentId, intents] of b.intents) {
    for (const { message } of messagesFor(agentId, intents, b.drafts, () => "r")) {
      const m = message.msg;
      switch (m.case) {
        case "addAccounts":
        case "saveAccounts": {
          const kind = m.case === "addAccounts" ? "add" : "save";
          const from = m.case === "saveAccounts" && m.value.fallbackFromZone !== "" ? ` (fallback from ${m.value.fallbackFromZone})` : "";
          for (const a of m.value.assignments) lines.push(`${agentId} ${kind} ${a.caching ? "caching" : "operations"}${from}`);
          break;
        }
        case "deleteAccounts":
          lines.push(...m.value.accountNames.map(() => `${agentId} delete`));
          break;
        case "welcome":
        case "operation":
        case undefined:
          lines.push(`${agentId} unexpected ${String(m.case)}`);
      }
    }
  }
  return lines.sort();
}

function check(row: Row): void {
  const { b, welcomes } = runBatch(row, storedOf(row.before), parseHolders(row.before.holders ?? ""), row.before.rt);
  const d = b.drafts.get(NAME)!;
  const after: After = { status: d.status, holders: holdersText(d), message: d.message };
  if (row.after.failedCount !== undefined) after.failedCount = d.failedCount;
  if (row.after.retryInMs !== undefined) after.retryInMs = d.retryInMs;
  if (row.after.deleted !== undefined) after.deleted = d.deleted;
  if (row.after.rt !== undefined) after.rt = d.rt;
  expect(after).toEqual(row.after);
  expect([...sent(b), ...welcomes].sort()).toEqual([...row.send].sort());
  // A retry is scheduled only when asked for: a row that does not expect one must not get one.
  if (row.after.retryInMs === undefined) expect(d.retryInMs).toBeUndefined();
}

const failure = (agentId: string, message: string) => ({ agentId, zone: zoneOfId(agentId), message });
const round = (failedRounds: number, tried: string[], waiting = false, lastFailure?: ReturnType<typeof failure>) => ({ failedRounds, tried, lastFailure, waiting });

const PLACEMENT: Row[] = [
  {
    name: "pinned: every agent of its zone when it has no more than maxHolders, one caching, with AddAccounts",
    agents: ["a-1", "a-2", "b-1"],
    before: { status: "ACTIVATING", zone: "a" },
    event: { rule: "activate" },
    after: { status: "ACTIVATING", holders: "a-1*, a-2", message: "activated; sent to zone a: Agent a-1 for caching, Agent a-2 for operations" },
    send: ["a-1 add caching", "a-2 add operations"],
  },
  {
    name: "pinned, more agents than maxHolders: those holding the fewest accounts; caching to the least-loaded of them",
    agents: ["a-1", "a-2", "a-3", "a-4", "a-5"],
    load: { "a-1": { held: 5, caching: 0 }, "a-2": { held: 1, caching: 1 }, "a-3": { held: 0 }, "a-4": { held: 0 }, "a-5": { held: 2 } },
    before: { status: "ACTIVATING", zone: "a" },
    event: { rule: "activate" },
    after: { status: "ACTIVATING", holders: "a-2, a-3*, a-4", message: "activated; sent to zone a: Agent a-3 for caching, Agent a-2 for operations, Agent a-4 for operations" },
    send: ["a-2 add operations", "a-3 add caching", "a-4 add operations"],
  },
  {
    name: "maxHolders 0: every agent of the zone (the plugin's behaviour)",
    agents: ["a-1", "a-2", "a-3", "a-4"],
    config: { maxHolders: 0 },
    before: { status: "ACTIVATING", zone: "a" },
    event: { rule: "activate" },
    after: {
      status: "ACTIVATING",
      holders: "a-1*, a-2, a-3, a-4",
      message: "activated; sent to zone a: Agent a-1 for caching, Agent a-2 for operations, Agent a-3 for operations and 1 more for operations",
    },
    send: ["a-1 add caching", "a-2 add operations", "a-3 add operations", "a-4 add operations"],
  },
  {
    name: "unpinned: the least-loaded zone (caching roles per agent), not every agent of every zone",
    agents: ["a-1", "b-1", "b-2"],
    load: { "a-1": { caching: 3 }, "b-1": { caching: 1 } },
    before: { status: "ACTIVATING", zone: null },
    event: { rule: "activate" },
    after: { status: "ACTIVATING", holders: "b-1, b-2*", message: "activated; sent to zone b: Agent b-2 for caching, Agent b-1 for operations" },
    send: ["b-1 add operations", "b-2 add caching"],
  },
  {
    name: "pinned, no agent of its zone connected: ORPHANED naming the zone, not sent to another zone",
    agents: ["b-1"],
    before: { status: "ACTIVATING", zone: "a" },
    event: { rule: "activate" },
    after: { status: "ORPHANED", holders: "", message: "activated; no agent of zone a is connected" },
    send: [],
  },
  {
    name: "unpinned, no agent connected at all: ORPHANED",
    agents: [],
    before: { status: "ACTIVATING", zone: null },
    event: { rule: "activate" },
    after: { status: "ORPHANED", holders: "", message: "activated; no agent is connected" },
    send: [],
  },
  {
    name: "PATCH ACTIVE of an ACTIVE account: re-sent to the holders with SaveAccounts, failed_count reset",
    agents: ["a-1", "a-2"],
    before: { status: "ACTIVATING", zone: "a", holders: "a-1*, a-2", failedCount: 3 },
    event: { rule: "activate" },
    after: { status: "ACTIVATING", holders: "a-1*, a-2", failedCount: 0, message: "activated; sent to zone a: Agent a-1 for caching, Agent a-2 for operations" },
    send: ["a-1 save caching", "a-2 save operations"],
  },
  {
    name: "PATCH ACTIVE while an activation is under way changes nothing",
    agents: ["a-1"],
    before: { status: "ACTIVATING", zone: "a", holders: "a-1*", rt: { round: round(0, ["a"]) }, message: "activated; sent to zone a: Agent a-1 for caching" },
    event: { rule: "activate" },
    after: { status: "ACTIVATING", holders: "a-1*", message: "activated; sent to zone a: Agent a-1 for caching" },
    send: [],
  },
  {
    name: "ORPHANED and an agent of its zone connects: placed (the engine's orphan pick-up)",
    agents: ["a-1"],
    before: { status: "ORPHANED", zone: "a", message: "activated; no agent of zone a is connected" },
    event: { rule: "updated" },
    after: { status: "ACTIVATING", holders: "a-1*", message: "definition updated; sent to zone a: Agent a-1 for caching" },
    send: ["a-1 add caching"],
  },
];

const ANSWERS: Row[] = [
  {
    name: "OK from the caching holder: ACTIVE, saying who took it for what",
    agents: ["a-1", "a-2"],
    before: { status: "ACTIVATING", zone: "a", holders: "a-1*, a-2", rt: { round: round(0, ["a"]) } },
    event: { rule: "answer", agent: "a-1", outcome: "OK" },
    after: { status: "ACTIVE", holders: "a-1*, a-2", failedCount: 0, rt: {}, message: "successfully assigned to Agent a-1 for caching" },
    send: [],
  },
  {
    name: "OK from an operations holder: ACTIVE as well",
    agents: ["a-1", "a-2"],
    before: { status: "ACTIVATING", zone: "a", holders: "a-1*, a-2", rt: { round: round(0, ["a"]) } },
    event: { rule: "answer", agent: "a-2", outcome: "OK" },
    after: { status: "ACTIVE", holders: "a-1*, a-2", message: "successfully assigned to Agent a-2 for operations" },
    send: [],
  },
  {
    name: "OK after a fallback: says which agent could not reach the cluster and where it moved; the fallback is remembered",
    agents: ["a-1", "b-1"],
    before: {
      status: "ACTIVATING",
      zone: "a",
      holders: "b-1*",
      rt: { round: round(0, ["a", "b"], false, failure("a-1", "dial tcp 10.0.0.1:443: i/o timeout")), fallbackFor: "a" },
    },
    event: { rule: "answer", agent: "b-1", outcome: "OK", asked: "save" },
    after: {
      status: "ACTIVE",
      holders: "b-1*",
      rt: { fallbackFor: "a" },
      message: "agent a-1 (zone a) could not reach the cluster: dial tcp 10.0.0.1:443: i/o timeout; moved to zone b, assigned to Agent b-1 for caching",
    },
    send: [],
  },
  {
    name: "UNREACHABLE (unsolicited) from the caching holder of several: dropped with DeleteAccounts, another promoted",
    agents: ["a-1", "a-2", "a-3"],
    before: { status: "ACTIVE", zone: "a", holders: "a-1*, a-2, a-3" },
    event: { rule: "answer", agent: "a-1", outcome: "UNREACHABLE", asked: "unsolicited", message: "lost route" },
    after: { status: "ACTIVE", holders: "a-2*, a-3", message: "agent a-1 (zone a) could not reach the cluster: lost route; dropped it, Agent a-2 promoted to caching" },
    send: ["a-1 delete", "a-2 save caching"],
  },
  {
    name: "UNREACHABLE from an operations holder: dropped, the others keep the account",
    agents: ["a-1", "a-2"],
    before: { status: "ACTIVE", zone: "a", holders: "a-1*, a-2" },
    event: { rule: "answer", agent: "a-2", outcome: "UNREACHABLE", asked: "save", message: "lost route" },
    after: { status: "ACTIVE", holders: "a-1*", message: "agent a-2 (zone a) could not reach the cluster: lost route; dropped it" },
    send: ["a-2 delete"],
  },
  {
    name: "UNREACHABLE from the last holder: SaveAccounts with fallback_from_zone to the least-loaded other zone",
    agents: ["a-1", "b-1", "c-1"],
    load: { "c-1": { caching: 2 } },
    before: { status: "ACTIVATING", zone: "a", holders: "a-1*", rt: { round: round(0, ["a"]) } },
    event: { rule: "answer", agent: "a-1", outcome: "UNREACHABLE", message: "i/o timeout" },
    after: {
      status: "ACTIVATING",
      holders: "b-1*",
      rt: { round: round(0, ["a", "b"], false, failure("a-1", "i/o timeout")), fallbackFor: "a" },
      message: "agent a-1 (zone a) could not reach the cluster: i/o timeout; trying zone b",
    },
    send: ["a-1 delete", "b-1 save caching (fallback from a)"],
  },
  {
    name: "UNREACHABLE unsolicited from the last holder of an ACTIVE account: falls back too",
    agents: ["a-1", "b-1"],
    before: { status: "ACTIVE", zone: "a", holders: "a-1*" },
    event: { rule: "answer", agent: "a-1", outcome: "UNREACHABLE", asked: "unsolicited", message: "cluster gone" },
    after: { status: "ACTIVATING", holders: "b-1*", message: "agent a-1 (zone a) could not reach the cluster: cluster gone; trying zone b" },
    send: ["a-1 delete", "b-1 save caching (fallback from a)"],
  },
  {
    name: "no zone left in the round, rounds left: waits retryFrequency for the next round",
    agents: ["a-1", "b-1"],
    before: { status: "ACTIVATING", zone: "a", holders: "b-1*", rt: { round: round(0, ["a", "b"], false, failure("a-1", "i/o timeout")), fallbackFor: "a" } },
    event: { rule: "answer", agent: "b-1", outcome: "UNREACHABLE", asked: "save", message: "no route to host" },
    after: {
      status: "ACTIVATING",
      holders: "",
      failedCount: 1,
      retryInMs: 5_000,
      message: "agent b-1 (zone b) could not reach the cluster: no route to host; no zone could reach it (round 1 of 3), next round in 5s",
    },
    send: ["b-1 delete"],
  },
  {
    name: "the last round fails: FAILED with failed_count and the last agent's message",
    agents: ["a-1", "b-1"],
    before: { status: "ACTIVATING", zone: "a", holders: "b-1*", failedCount: 2, rt: { round: round(2, ["a", "b"]), fallbackFor: "a" } },
    event: { rule: "answer", agent: "b-1", outcome: "UNREACHABLE", asked: "save", message: "no route to host" },
    after: { status: "FAILED", holders: "", failedCount: 3, rt: {}, message: "agent b-1 (zone b) could not reach the cluster: no route to host; no zone could reach it in 3 rounds" },
    send: ["b-1 delete"],
  },
  {
    name: "maxRetries 0: the first round is the only one",
    agents: ["a-1"],
    config: { maxRetries: 0 },
    before: { status: "ACTIVATING", zone: "a", holders: "a-1*", rt: { round: round(0, ["a"]) } },
    event: { rule: "answer", agent: "a-1", outcome: "UNREACHABLE" },
    after: { status: "FAILED", holders: "", failedCount: 1, message: "agent a-1 (zone a) could not reach the cluster: no reason given; no zone could reach it in 1 round" },
    send: ["a-1 delete"],
  },
  {
    name: "ERROR: FAILED at once, every holder told to stop, no fallback",
    agents: ["a-1", "a-2", "b-1"],
    before: { status: "ACTIVATING", zone: "a", holders: "a-1*, a-2", rt: { round: round(0, ["a"]) } },
    event: { rule: "answer", agent: "a-2", outcome: "ERROR", message: "invalid kubeconfig" },
    after: { status: "FAILED", holders: "", failedCount: 1, rt: {}, message: "agent a-2 (zone a) rejected the account: invalid kubeconfig" },
    send: ["a-1 delete", "a-2 delete"],
  },
  {
    name: "an answer from an agent that does not hold the account changes nothing",
    agents: ["a-1", "a-2"],
    before: { status: "ACTIVE", zone: "a", holders: "a-1*", message: "successfully assigned to Agent a-1 for caching" },
    event: { rule: "answer", agent: "a-2", outcome: "UNREACHABLE", asked: "unsolicited" },
    after: { status: "ACTIVE", holders: "a-1*", message: "successfully assigned to Agent a-1 for caching" },
    send: [],
  },
  {
    name: "a late DeleteAccounts answer on a served account does not drop the holder a later round re-added",
    agents: ["a-1"],
    before: { status: "ACTIVATING", zone: "a", holders: "a-1*", rt: { round: round(1, ["a"]) }, message: "round 2 of 3; sent to zone a: Agent a-1 for caching" },
    event: { rule: "answer", agent: "a-1", outcome: "OK", asked: "delete" },
    after: { status: "ACTIVATING", holders: "a-1*", message: "round 2 of 3; sent to zone a: Agent a-1 for caching" },
    send: [],
  },
  {
    name: "a demoted caching holder confirms: the role moves to the handoff's target",
    agents: ["a-1", "a-2"],
    before: { status: "ACTIVE", zone: "a", holders: "a-1*, a-2", rt: { handoff: { from: "a-1", to: "a-2" } }, message: "successfully assigned to Agent a-1 for caching" },
    event: { rule: "answer", agent: "a-1", outcome: "OK", asked: "save", demotion: true },
    after: { status: "ACTIVE", holders: "a-1, a-2*", rt: {}, message: "caching moved from Agent a-1 to Agent a-2 to spread the zone's load" },
    send: ["a-2 save caching"],
  },
  {
    name: "the agent being demoted confirms a later message that gave the role back: the handoff is off, it keeps caching",
    agents: ["a-1", "a-2"],
    before: { status: "ACTIVE", zone: "a", holders: "a-1*, a-2", rt: { handoff: { from: "a-1", to: "a-2" } }, message: "successfully assigned to Agent a-1 for caching" },
    event: { rule: "answer", agent: "a-1", outcome: "OK", asked: "save" },
    after: { status: "ACTIVE", holders: "a-1*, a-2", rt: {}, message: "successfully assigned to Agent a-1 for caching" },
    send: [],
  },
];

const ROUNDS: Row[] = [
  {
    name: "the next round after retryFrequency starts again from the account's own zone",
    agents: ["a-1", "b-1"],
    before: {
      status: "ACTIVATING",
      zone: "a",
      failedCount: 1,
      rt: { round: round(1, ["a", "b"], true, failure("b-1", "no route to host")) },
      message: "agent b-1 (zone b) could not reach the cluster: no route to host; no zone could reach it (round 1 of 3), next round in 5s",
    },
    event: { rule: "retry" },
    after: { status: "ACTIVATING", holders: "a-1*", rt: { round: round(1, ["a"]) }, message: "round 2 of 3; sent to zone a: Agent a-1 for caching" },
    send: ["a-1 add caching"],
  },
  {
    name: "a retry for an account that left ACTIVATING meanwhile does nothing",
    agents: ["a-1"],
    before: { status: "INACTIVE", zone: "a", rt: { round: round(1, ["a"], true) }, message: "deactivated; no agent held it" },
    event: { rule: "retry" },
    after: { status: "INACTIVE", holders: "", message: "deactivated; no agent held it" },
    send: [],
  },
  {
    name: "while a round waits, an agent joining the zone is not given the account",
    agents: ["a-1", "a-2"],
    before: { status: "ACTIVATING", zone: "a", holders: "a-1*", rt: { round: round(1, ["a"], true) }, message: "waiting" },
    event: { rule: "zoneGrew", agent: "a-2" },
    after: { status: "ACTIVATING", holders: "a-1*", message: "waiting" },
    send: [],
  },
];

const HOLDERS: Row[] = [
  {
    name: "the caching holder is gone: another holder promoted, a standby takes its place (maxHolders)",
    agents: ["a-2", "a-3", "a-4"],
    before: { status: "ACTIVE", zone: "a", holders: "a-1*, a-2, a-3" },
    event: { rule: "holderGone", agent: "a-1", reason: "disconnected" },
    after: { status: "ACTIVE", holders: "a-2*, a-3, a-4", message: "agent a-1 (zone a) disconnected; Agent a-2 promoted to caching; Agent a-4 took its place" },
    send: ["a-2 save caching", "a-4 add operations"],
  },
  {
    name: "an operations holder is gone, a standby takes its place",
    agents: ["a-1", "a-3", "a-4"],
    load: { "a-3": { held: 4 } },
    config: { maxHolders: 2 },
    before: { status: "ACTIVE", zone: "a", holders: "a-1*, a-2" },
    event: { rule: "holderGone", agent: "a-2", reason: "missed 3 heartbeats" },
    after: { status: "ACTIVE", holders: "a-1*, a-4", message: "agent a-2 (zone a) missed 3 heartbeats; Agent a-4 took its place" },
    send: ["a-4 add operations"],
  },
  {
    name: "an operations holder is gone and the zone has no standby: the others keep it, the message stays",
    agents: ["a-1"],
    before: { status: "ACTIVE", zone: "a", holders: "a-1*, a-2", message: "successfully assigned to Agent a-1 for caching" },
    event: { rule: "holderGone", agent: "a-2", reason: "disconnected" },
    after: { status: "ACTIVE", holders: "a-1*", message: "successfully assigned to Agent a-1 for caching" },
    send: [],
  },
  {
    name: "the last holder of a pinned account is gone, its zone has a standby: placed there again",
    agents: ["a-2"],
    config: { maxHolders: 1 },
    before: { status: "ACTIVE", zone: "a", holders: "a-1*" },
    event: { rule: "holderGone", agent: "a-1", reason: "disconnected" },
    after: { status: "ACTIVATING", holders: "a-2*", message: "agent a-1 (zone a) disconnected; sent to zone a: Agent a-2 for caching" },
    send: ["a-2 add caching"],
  },
  {
    name: "the last holder of a pinned account is gone and its zone is empty: ORPHANED, not sent elsewhere",
    agents: ["b-1"],
    before: { status: "ACTIVE", zone: "a", holders: "a-1*" },
    event: { rule: "holderGone", agent: "a-1", reason: "disconnected" },
    after: { status: "ORPHANED", holders: "", message: "agent a-1 (zone a) disconnected; no agent of zone a is connected" },
    send: [],
  },
  {
    name: "the last holder of an unpinned account is gone: placed on another zone at once",
    agents: ["b-1"],
    before: { status: "ACTIVE", zone: null, holders: "a-1*" },
    event: { rule: "holderGone", agent: "a-1", reason: "disconnected" },
    after: { status: "ACTIVATING", holders: "b-1*", message: "agent a-1 (zone a) disconnected; sent to zone b: Agent b-1 for caching" },
    send: ["b-1 add caching"],
  },
  {
    name: "the last holder of an unpinned account is gone and no agent is left: ORPHANED",
    agents: [],
    before: { status: "ACTIVE", zone: null, holders: "a-1*" },
    event: { rule: "holderGone", agent: "a-1", reason: "disconnected: the hub shut down" },
    after: { status: "ORPHANED", holders: "", message: "agent a-1 (zone a) disconnected: the hub shut down; no agent is connected" },
    send: [],
  },
  {
    name: "static: the caching holder is gone, another registrant is promoted",
    agents: ["a-2"],
    before: { status: "ACTIVE", zone: "a", holders: "a-1*, a-2", source: "static-agent-config" },
    event: { rule: "holderGone", agent: "a-1", reason: "disconnected" },
    after: { status: "ACTIVE", holders: "a-2*", message: "agent a-1 (zone a) disconnected; Agent a-2 promoted to caching" },
    send: ["a-2 save caching"],
  },
  {
    name: "static: the last holder is gone: ORPHANED, removed after cleanupAfter unless registered again",
    agents: ["a-2"],
    before: { status: "ACTIVE", zone: "a", holders: "a-1*", source: "static-agent-config" },
    event: { rule: "holderGone", agent: "a-1", reason: "disconnected" },
    after: { status: "ORPHANED", holders: "", message: "agent a-1 (zone a) disconnected; no agent holds this static account any more (removed in 10m unless an agent registers it again)" },
    send: [],
  },
  {
    name: "zone grew: a newcomer of the serving zone becomes one more holder while under maxHolders",
    agents: ["a-1", "a-2"],
    before: { status: "ACTIVE", zone: "a", holders: "a-1*" },
    event: { rule: "zoneGrew", agent: "a-2" },
    after: { status: "ACTIVE", holders: "a-1*, a-2", message: "agent a-2 (zone a) connected; Agent a-1 for caching, Agent a-2 for operations" },
    send: ["a-2 add operations"],
  },
  {
    name: "zone grew: an account at maxHolders leaves the newcomer standing by",
    agents: ["a-1", "a-2", "a-3"],
    config: { maxHolders: 2 },
    before: { status: "ACTIVE", zone: "a", holders: "a-1*, a-2", message: "successfully assigned to Agent a-1 for caching" },
    event: { rule: "zoneGrew", agent: "a-3" },
    after: { status: "ACTIVE", holders: "a-1*, a-2", message: "successfully assigned to Agent a-1 for caching" },
    send: [],
  },
  {
    name: "zone grew: an agent of another zone than the serving one is not added",
    agents: ["a-1", "b-1"],
    before: { status: "ACTIVE", zone: null, holders: "a-1*", message: "successfully assigned to Agent a-1 for caching" },
    event: { rule: "zoneGrew", agent: "b-1" },
    after: { status: "ACTIVE", holders: "a-1*", message: "successfully assigned to Agent a-1 for caching" },
    send: [],
  },
  {
    name: "a holder reconnects: told again what it holds",
    agents: ["a-1"],
    before: { status: "ACTIVE", zone: "a", holders: "a-1*", message: "successfully assigned to Agent a-1 for caching" },
    event: { rule: "resendTo", agent: "a-1" },
    after: { status: "ACTIVE", holders: "a-1*", message: "successfully assigned to Agent a-1 for caching" },
    send: ["a-1 save caching"],
  },
];

const STATIC: Row[] = [
  {
    name: "registered by two agents of its zone: both hold it, one caching, each told its role with SaveAccounts",
    agents: ["a-1", "a-2"],
    before: { status: "ACTIVE", zone: null, source: "static-agent-config" },
    event: { rule: "register", agents: ["a-1", "a-2"] },
    after: {
      status: "ACTIVE",
      holders: "a-1*, a-2",
      failedCount: 0,
      message: "registered by agent a-1 (zone a), agent a-2 (zone a) from its configuration; Agent a-1 for caching, Agent a-2 for operations",
    },
    send: ["a-1 save caching", "a-2 save operations"],
  },
  {
    name: "an ORPHANED static account registered again: ACTIVE",
    agents: ["a-1"],
    before: { status: "ORPHANED", zone: "a", source: "static-agent-config", message: "agent a-1 (zone a) disconnected; no agent holds this static account any more" },
    event: { rule: "register", agents: ["a-1"] },
    after: { status: "ACTIVE", holders: "a-1*", message: "registered by agent a-1 (zone a) from its configuration; Agent a-1 for caching" },
    send: ["a-1 save caching"],
  },
  {
    name: "a name a hub-stored account has: refused in the agent's welcome, the account untouched",
    agents: ["a-1", "a-2"],
    before: { status: "ACTIVE", zone: "a", holders: "a-1*", message: "successfully assigned to Agent a-1 for caching" },
    event: { rule: "register", agents: ["a-2"] },
    after: { status: "ACTIVE", holders: "a-1*", message: "successfully assigned to Agent a-1 for caching" },
    send: ["a-2 welcome rejects it"],
  },
  {
    name: "the caching holder no longer lists it: dropped, the other holder promoted",
    agents: ["a-1", "a-2"],
    before: { status: "ACTIVE", zone: "a", holders: "a-1*, a-2", source: "static-agent-config" },
    event: { rule: "staticDropped", agent: "a-1" },
    after: { status: "ACTIVE", holders: "a-2*", message: "agent a-1 (zone a) no longer lists it in its configuration; Agent a-2 promoted to caching" },
    send: ["a-2 save caching"],
  },
  {
    name: "static accounts are never placed: PATCH ACTIVE does not reach them",
    agents: ["a-1", "a-2"],
    before: { status: "ACTIVATING", zone: "a", source: "static-agent-config", message: "" },
    event: { rule: "activate" },
    after: { status: "ACTIVATING", holders: "", message: "" },
    send: [],
  },
];

const CHANGES: Row[] = [
  {
    name: "PUT of an ACTIVE account: the new definition goes to every holder with SaveAccounts",
    agents: ["a-1", "a-2"],
    before: { status: "ACTIVE", zone: "a", holders: "a-1*, a-2" },
    event: { rule: "updated" },
    after: { status: "ACTIVE", holders: "a-1*, a-2", message: "definition updated; sent to Agent a-1, Agent a-2" },
    send: ["a-1 save caching", "a-2 save operations"],
  },
  {
    name: "PUT changing the zoneId of an ACTIVE account: DeleteAccounts outside the new zone, AddAccounts in it",
    agents: ["a-1", "a-2", "b-1"],
    before: { status: "ACTIVE", zone: "b", holders: "a-1*, a-2" },
    event: { rule: "updated" },
    after: { status: "ACTIVATING", holders: "b-1*", message: "zone changed to zone b; sent to zone b: Agent b-1 for caching" },
    send: ["a-1 delete", "a-2 delete", "b-1 add caching"],
  },
  {
    name: "PUT of an account served by a fallback zone: stays there (the hub does not move it back by itself)",
    agents: ["a-1", "b-1"],
    before: { status: "ACTIVE", zone: "a", holders: "b-1*", rt: { fallbackFor: "a" } },
    event: { rule: "updated" },
    after: { status: "ACTIVE", holders: "b-1*", message: "definition updated; sent to Agent b-1" },
    send: ["b-1 save caching"],
  },
  {
    name: "deactivate with holders: DEACTIVATING, DeleteAccounts to each",
    agents: ["a-1", "a-2"],
    before: { status: "TO_DEACTIVATE", zone: "a", holders: "a-1*, a-2" },
    event: { rule: "deactivate", deleting: false },
    after: { status: "DEACTIVATING", holders: "a-1*, a-2", message: "deactivating: waiting for Agent a-1, Agent a-2 to stop serving it" },
    send: ["a-1 delete", "a-2 delete"],
  },
  {
    name: "deactivate without holders: INACTIVE at once, saying why",
    agents: ["a-1"],
    before: { status: "TO_DEACTIVATE", zone: "a" },
    event: { rule: "deactivate", deleting: false, reason: "by autoscan: gone from Clouddriver" },
    after: { status: "INACTIVE", holders: "", message: "deactivated by autoscan: gone from Clouddriver; no agent held it" },
    send: [],
  },
  {
    name: "the last holder acknowledges DeleteAccounts: INACTIVE, with the deactivation's cause and who let go",
    agents: ["a-1"],
    before: { status: "DEACTIVATING", zone: "a", holders: "a-1*", message: "deactivating by autoscan: gone from Clouddriver: waiting for Agent a-1 to stop serving it" },
    event: { rule: "answer", agent: "a-1", outcome: "OK", asked: "delete" },
    after: { status: "INACTIVE", holders: "", message: "deactivated by autoscan: gone from Clouddriver: agent a-1 (zone a) stopped serving it" },
    send: [],
  },
  {
    name: "one of two holders acknowledges DeleteAccounts: still DEACTIVATING, waiting for the other",
    agents: ["a-1", "a-2"],
    before: { status: "DEACTIVATING", zone: "a", holders: "a-1*, a-2", message: "deactivating: waiting for Agent a-1, Agent a-2 to stop serving it" },
    event: { rule: "answer", agent: "a-1", outcome: "OK", asked: "delete" },
    after: { status: "DEACTIVATING", holders: "a-2", message: "deactivating: waiting for Agent a-1, Agent a-2 to stop serving it" },
    send: [],
  },
  {
    name: "a holder answers DeleteAccounts with ERROR: FAILED with its message",
    agents: ["a-1"],
    before: { status: "DEACTIVATING", zone: "a", holders: "a-1*", message: "deactivating: waiting for Agent a-1 to stop serving it" },
    event: { rule: "answer", agent: "a-1", outcome: "ERROR", asked: "delete", message: "permission denied" },
    after: { status: "FAILED", holders: "a-1*", message: "agent a-1 (zone a) failed to delete the account: permission denied" },
    send: [],
  },
  {
    name: "the last holder of a deactivating account is gone: INACTIVE",
    agents: [],
    before: { status: "DEACTIVATING", zone: "a", holders: "a-1*", message: "deactivating: waiting for Agent a-1 to stop serving it" },
    event: { rule: "holderGone", agent: "a-1", reason: "disconnected" },
    after: { status: "INACTIVE", holders: "", message: "deactivated: agent a-1 (zone a) disconnected" },
    send: [],
  },
  {
    name: "the last holder of a deactivating account cannot reach the cluster: INACTIVE, it was dropped",
    agents: ["a-1"],
    before: { status: "DEACTIVATING", zone: "a", holders: "a-1*", message: "deactivating: waiting for Agent a-1 to stop serving it" },
    event: { rule: "answer", agent: "a-1", outcome: "UNREACHABLE", asked: "delete", message: "i/o timeout" },
    after: { status: "INACTIVE", holders: "", message: "deactivated: agent a-1 (zone a) could not reach the cluster: i/o timeout; dropped it" },
    send: [],
  },
  {
    name: "a holder of a deactivating account reconnects: told again to delete",
    agents: ["a-1"],
    before: { status: "DEACTIVATING", zone: "a", holders: "a-1*", message: "deactivating: waiting for Agent a-1 to stop serving it" },
    event: { rule: "resendTo", agent: "a-1" },
    after: { status: "DEACTIVATING", holders: "a-1*", message: "deactivating: waiting for Agent a-1 to stop serving it" },
    send: ["a-1 delete"],
  },
  {
    name: "delete with holders: DELETING, DeleteAccounts to each",
    agents: ["a-1"],
    before: { status: "DELETING", zone: "a", holders: "a-1*" },
    event: { rule: "deactivate", deleting: true },
    after: { status: "DELETING", holders: "a-1*", deleted: false, message: "deleting: waiting for Agent a-1 to stop serving it" },
    send: ["a-1 delete"],
  },
  {
    name: "delete: the last holder acknowledges, the row goes",
    agents: ["a-1"],
    before: { status: "DELETING", zone: "a", holders: "a-1*", message: "deleting: waiting for Agent a-1 to stop serving it" },
    event: { rule: "answer", agent: "a-1", outcome: "OK", asked: "delete" },
    after: { status: "DELETING", holders: "", deleted: true, message: "deleting: waiting for Agent a-1 to stop serving it" },
    send: [],
  },
  {
    name: "delete without holders: the row goes at once",
    agents: ["a-1"],
    before: { status: "DELETING", zone: "a" },
    event: { rule: "deactivate", deleting: true },
    after: { status: "INACTIVE", holders: "", deleted: true, message: "deactivated; no agent held it" },
    send: [],
  },
  {
    name: "after a restart an ACTIVE account without holders is placed again",
    agents: ["a-1"],
    before: { status: "ACTIVE", zone: "a", message: "successfully assigned to Agent a-1 for caching" },
    event: { rule: "recover", why: "the hub restarted" },
    after: { status: "ACTIVATING", holders: "a-1*", message: "the hub restarted; sent to zone a: Agent a-1 for caching" },
    send: ["a-1 add caching"],
  },
  {
    name: "after a restart a DEACTIVATING account without holders is INACTIVE",
    agents: ["a-1"],
    before: { status: "DEACTIVATING", zone: "a" },
    event: { rule: "recover", why: "the hub restarted" },
    after: { status: "INACTIVE", holders: "", message: "deactivated; no agent held it" },
    send: [],
  },
  {
    name: "after a restart a DELETING account without holders is removed",
    agents: ["a-1"],
    before: { status: "DELETING", zone: "a" },
    event: { rule: "recover", why: "the hub restarted" },
    after: { status: "DELETING", holders: "", deleted: true, message: "" },
    send: [],
  },
  {
    name: "after a restart a FAILED account stays as it is",
    agents: ["a-1"],
    before: { status: "FAILED", zone: "a", message: "agent a-1 (zone a) rejected the account: invalid kubeconfig" },
    event: { rule: "recover", why: "the hub restarted" },
    after: { status: "FAILED", holders: "", message: "agent a-1 (zone a) rejected the account: invalid kubeconfig" },
    send: [],
  },
];

describe("assignment rules, one event on a draft", () => {
  describe("placement", () => it.each(PLACEMENT)("$name", check));
  describe("answers (OK / UNREACHABLE / ERROR) and fallback", () => it.each(ANSWERS)("$name", check));
  describe("rounds and retries", () => it.each(ROUNDS)("$name", check));
  describe("holders gone, zone grown, holder cap and standbys", () => it.each(HOLDERS)("$name", check));
  describe("static accounts", () => it.each(STATIC)("$name", check));
  describe("updates, deactivation, deletion, recovery", () => it.each(CHANGES)("$name", check));
});

describe("assignment rules, batch after batch", () => {
  it("walks an account that no zone can reach through every round to FAILED, and PATCH ACTIVE starts afresh", () => {
    const agents = ["a-1", "b-1"];
    let stored = storedOf({ status: "ACTIVATING", zone: "a" });
    let holders = new Map<string, boolean>();
    let rt: AccountRuntime | undefined;
    const trail: string[] = [];
    // What the engine keeps between batches: the row it wrote, the holders, its memory of the round.
    const step = (event: RuleEvent) => {
      const { b } = runBatch({ agents, event }, stored, holders, rt);
      const d = b.drafts.get(NAME)!;
      stored = { ...stored, status: d.status, lastAssignmentMsg: d.message, failedCount: d.failedCount };
      holders = new Map(d.holders);
      rt = d.rt;
      trail.push(`${d.status} [${holdersText(d)}] ${sent(b).join("; ")}${d.retryInMs === undefined ? "" : ` retry in ${d.retryInMs}`}`);
    };
    step({ rule: "activate" });
    for (let r = 0; r < CONFIG.maxRetries + 1; r++) {
      step({ rule: "answer", agent: "a-1", outcome: "UNREACHABLE", message: "i/o timeout" });
      step({ rule: "answer", agent: "b-1", outcome: "UNREACHABLE", asked: "save", message: "no route" });
      if (stored.status === "ACTIVATING") step({ rule: "retry" });
    }
    expect(trail).toEqual([
      "ACTIVATING [a-1*] a-1 add caching",
      "ACTIVATING [b-1*] a-1 delete; b-1 save caching (fallback from a)",
      "ACTIVATING [] b-1 delete retry in 5000",
      "ACTIVATING [a-1*] a-1 add caching",
      "ACTIVATING [b-1*] a-1 delete; b-1 save caching (fallback from a)",
      "ACTIVATING [] b-1 delete retry in 5000",
      "ACTIVATING [a-1*] a-1 add caching",
      "ACTIVATING [b-1*] a-1 delete; b-1 save caching (fallback from a)",
      "FAILED [] b-1 delete",
    ]);
    expect(stored).toMatchObject({ failedCount: 3, lastAssignmentMsg: "agent b-1 (zone b) could not reach the cluster: no route; no zone could reach it in 3 rounds" });
    expect(rt).toEqual({});

    // PATCH ACTIVE: the API writes ACTIVATING; the engine places it afresh with failed_count 0.
    stored = { ...stored, status: "ACTIVATING" };
    step({ rule: "activate" });
    expect(stored).toMatchObject({ status: "ACTIVATING", failedCount: 0, lastAssignmentMsg: "activated; sent to zone a: Agent a-1 for caching" });
  });
});

describe("answers that need no batch (answerChangesNothing, what the engine skips)", () => {
  it("are exactly answers that answered() leaves every account alone with, whatever its status, holders and progress", () => {
    const asks: AccountAnswer["asked"][] = ["add", "save", "delete", "unsolicited"];
    const runtimes: (AccountRuntime | undefined)[] = [undefined, { round: round(0, ["a"]) }, { fallbackFor: "b" }, { handoff: { from: "a-1", to: "a-2" } }, { handoff: { from: "a-2", to: "a-1" } }];
    let skipped = 0;
    for (const status of Object.values(AccountStatus))
      for (const source of [AccountSource.CLOUDDRIVER, AccountSource.STATIC])
        for (const holders of ["a-1*, a-2", "a-1, a-2*", "a-2*"])
          for (const asked of asks)
            for (const outcome of Object.values(OUTCOMES))
              for (const demotion of [false, true])
                for (const rt of runtimes) {
                  const answer: AccountAnswer = { agentId: "a-1", asked, outcome, demotion, sentCaching: demotion ? false : parseHolders(holders).get("a-1"), message: "m" };
                  if (!answerChangesNothing(answer, status, rt?.handoff !== undefined)) continue;
                  skipped++;
                  const stored = { ...storedOf({ status, zone: "a", source, message: "before" }), failedCount: 1 };
                  const d = draftOf(stored, parseHolders(holders), rt === undefined ? undefined : structuredClone(rt));
                  const b: Batch = { view: createAgentView(createAgentRegistry(), []), config: CONFIG, drafts: new Map([[d.name, d]]), intents: new Map() };
                  const before = { status: d.status, message: d.message, failedCount: d.failedCount, holders: holdersText(d), rt: structuredClone(d.rt) };
                  answered(b, d, answer);
                  const what = `${status} ${source} ${holders} ${asked} ${outcome} demotion=${String(demotion)} rt=${JSON.stringify(rt)}`;
                  expect({ status: d.status, message: d.message, failedCount: d.failedCount, holders: holdersText(d), rt: d.rt }, what).toEqual(before);
                  expect(sent(b), what).toEqual([]);
                }
    // Not vacuous: OKs to AddAccounts/SaveAccounts of settled accounts, across statuses and holders.
    expect(skipped).toBeGreaterThan(100);
  });
});

describe("choosing holders (assignment.maxHolders)", () => {
  const held = (counts: Record<string, number>) => (id: string) => counts[id] ?? 0;
  it.each<{ name: string; agents: string[]; holding: string[]; cap: number; counts: Record<string, number>; chosen: string[] }>([
    { name: "cap 0: every agent", agents: ["a-1", "a-2", "a-3"], holding: [], cap: 0, counts: {}, chosen: ["a-1", "a-2", "a-3"] },
    { name: "no more agents than the cap: every agent", agents: ["a-1", "a-2"], holding: [], cap: 3, counts: {}, chosen: ["a-1", "a-2"] },
    { name: "the fewest held, then the smallest id", agents: ["a-1", "a-2", "a-3", "a-4"], holding: [], cap: 2, counts: { "a-1": 2, "a-3": 1 }, chosen: ["a-2", "a-4"] },
    { name: "current holders stay, topped up with the fewest held", agents: ["a-1", "a-2", "a-3", "a-4"], holding: ["a-3"], cap: 2, counts: { "a-1": 1, "a-3": 9 }, chosen: ["a-3", "a-2"] },
    { name: "more current holders than the cap: the first ones stay", agents: ["a-1", "a-2", "a-3"], holding: ["a-1", "a-2", "a-3"], cap: 2, counts: {}, chosen: ["a-1", "a-2"] },
  ])("$name", ({ agents, holding, cap, counts, chosen }) => {
    expect(chooseHolders(agents, (id) => holding.includes(id), cap, held(counts))).toEqual(chosen);
  });
});
