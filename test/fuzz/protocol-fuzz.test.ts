import fc from "fast-check";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { nameProblem } from "../../src/model/account-names.js";
import { DATABASE_KINDS } from "../support/databases.js";
import { definition, useScenario } from "../hub/support/hub-scenario.js";
import { eventually } from "../support/eventually.js";
import { toStruct } from "../hub/support/test-agent.js";

const AGENTS = Number(process.env.FUZZ_AGENTS ?? 24);

const text = fc.oneof(
  fc.constantFrom("", "a-1", "zone", "fz-acc", "r1", "r2", "bad\u0000id", "x/y", " edge ", "é😀", "\u001b[31m"),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: "grapheme", maxLength: 300 }).map((s) => s.slice(0, 300)),
);
const outcome = fc.constantFrom("OUTCOME_UNSPECIFIED", "OUTCOME_OK", "OUTCOME_UNREACHABLE", "OUTCOME_ERROR", 7);
const hello = fc.record({
  agentId: text,
  zoneId: text,
  version: text,
  labels: fc.dictionary(text, text, { maxKeys: 4 }),
  staticAccounts: fc.array(fc.record({ name: text, config: fc.dictionary(text, fc.oneof(text, fc.integer(), fc.boolean()), { maxKeys: 3 }).map(toStruct) }), { maxLength: 3 }),
});
/** One ConnectRequest in proto-loader's JSON form: any of the four, malformed contents, or empty. */
const request = fc.oneof(
  hello.map((h) => ({ hello: h })),
  fc.constant({ heartbeat: {} }),
  fc.record({ requestId: text, accountName: text, outcome, message: text }).map((r) => ({ accountResult: r })),
  fc.record({ operationId: text, outcome, message: text }).map((r) => ({ operationResult: { ...r, result: toStruct({ k: r.message }) } })),
  fc.constant({}),
);
/** A valid hello first half of the time, so that later messages reach a registered session. */
const sequence = fc.tuple(fc.boolean(), hello, fc.array(request, { maxLength: 12 })).map(([valid, h, rest]) => [
  valid ? { hello: { agentId: `fz-${Math.random().toString(36).slice(2, 8)}`, zoneId: "fz", version: "1", labels: {}, staticAccounts: [] } } : { hello: h },
  ...rest,
]);

describe.each(DATABASE_KINDS)("protocol fuzzer on %s", (kind) => {
  // PINGs every 2 s: on PGlite a burst of batches holds the event loop long enough for 200 ms PINGs to look unanswered.
  const scenario = useScenario(kind, { "limits.helloTimeout": "500ms", "heartbeat.interval": "2s" });

  it(`survives ${AGENTS} agents sending random and malformed ConnectRequest sequences at once`, async () => {
    const s = scenario();
    // A served account, so that random answers can name something real.
    await s.connect({ agentId: "steady", zoneId: "fz" });
    await s.createActive(definition("fz-acc", "fz"));
    await eventually(async () => expect((await s.account("fz-acc")).status).toBe("ACTIVE"));

    const sequences = fc.sample(sequence, { numRuns: AGENTS, seed: Number(process.env.FUZZ_SEED ?? 11) });
    const fuzzers = sequences.map(([first, ...rest]) => {
      const agent = s.connectRaw({ agentId: "", zoneId: "", firstMessage: first as Record<string, unknown>, heartbeats: false });
      for (const m of rest) agent.send(m as Record<string, unknown>);
      return agent;
    });
    // Let them all act, then hang up.
    await new Promise((resolve) => setTimeout(resolve, 800));
    for (const f of fuzzers) f.close();

    // The hub still answers everything: REST, a new agent, an operation.
    const newcomer = s.connectRaw({ agentId: "after-1", zoneId: "fz" });
    const t0 = Date.now();
    await newcomer.waitFor("welcome", undefined, 30_000);
    if (process.env.FUZZ_AGENTS !== undefined) console.log(`protocol fuzzer (${kind}, ${AGENTS} agents): a new agent welcomed ${Date.now() - t0} ms after the fuzzers hung up`);
    expect(newcomer.received[0]?.kind).toBe("welcome");
    expect((await s.rest("GET", "/armory/accounts")).status).toBe(200);
    // Random answers may legitimately have failed the account (an ERROR is an answer): activating it again works.
    expect((await s.rest("PATCH", "/armory/accounts/dynamic", [{ name: "fz-acc", state: "ACTIVE" }])).status).toBe(202);
    await eventually(async () => expect((await s.account("fz-acc")).status).toBe("ACTIVE"), 10_000);
    const op = await s.rest("POST", "/armory/operations", { account: "fz-acc", kind: "get", payload: {} });
    expect(op.status).toBe(200);
    // No row holds what the edge refuses.
    await eventually(async () => {
      const agents = await s.hub.app.database.rows<{ agent_id: string; zone_id: string }>(sql`SELECT agent_id, zone_id FROM kubesvc_agents`);
      expect(agents.map((a) => a.agent_id).sort()).toEqual(["after-1", "steady"]);
    });
    const accounts = await s.hub.app.database.rows<{ name: string; last_assignment_msg: string }>(sql`SELECT name, last_assignment_msg FROM kubesvc_accounts`);
    for (const a of accounts) {
      expect(nameProblem(a.name)).toBeUndefined();
      expect(a.last_assignment_msg).not.toMatch(/\p{Cc}/u);
    }
  });
});
