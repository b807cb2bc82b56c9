import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ConnectResponseSchema, type ConnectResponse } from "../../gen/agenthub/v1/agent_pb.js";
import { withCurrentRoles } from "../../src/hub/letter-roles.js";
import type { PendingRequest } from "../../src/hub/pending-requests.js";

function saveOf(roles: [string, boolean][]): ConnectResponse {
  const assignments = roles.map(([name, caching]) => ({ account: { name }, caching, zoneId: "z" }));
  return create(ConnectResponseSchema, { requestId: "", msg: { case: "saveAccounts", value: { assignments, fallbackFromZone: "" } } });
}

const sent = (message: ConnectResponse | undefined) =>
  message?.msg.case === "saveAccounts" || message?.msg.case === "addAccounts" ? message.msg.value.assignments.map((a) => [a.account?.name, a.caching]) : message?.msg.case;

describe("another replica's account message, brought up to date before it is sent", () => {
  it("gives each account the role its row has now, keeps a demotion, leaves out what the agent no longer holds", () => {
    const pending: PendingRequest = {
      agentId: "a-1",
      kind: "save",
      accounts: new Map([["promoted-then-moved", true], ["demoting", false], ["gone", true], ["promoted-since", false]]),
      demotions: new Set(["demoting"]),
    };
    const message = saveOf([["promoted-then-moved", true], ["demoting", false], ["gone", true], ["promoted-since", false]]);
    // Rows now: the first account's role moved to another agent, the demotion's row is still caching, "gone" is no longer held.
    const roles = new Map([["promoted-then-moved", false], ["demoting", true], ["promoted-since", true]]);
    const current = withCurrentRoles(message, pending, roles);
    expect(sent(current?.message)).toEqual([["promoted-then-moved", false], ["demoting", false], ["promoted-since", true]]);
    expect([...(current?.pending.accounts ?? [])]).toEqual([["promoted-then-moved", false], ["demoting", false], ["promoted-since", true]]);
    expect([...(current?.pending.demotions ?? [])]).toEqual(["demoting"]);
  });

  it("sends nothing when the agent holds none of the accounts any more, and DeleteAccounts as written", () => {
    const pending: PendingRequest = { agentId: "a-1", kind: "add", accounts: new Map([["x", true]]) };
    expect(withCurrentRoles(saveOf([["x", true]]), pending, new Map())).toBeUndefined();
    const deletion = create(ConnectResponseSchema, { msg: { case: "deleteAccounts", value: { accountNames: ["x"] } } });
    const asDeleted: PendingRequest = { agentId: "a-1", kind: "delete", accounts: new Map([["x", false]]) };
    expect(withCurrentRoles(deletion, asDeleted, new Map())?.message).toBe(deletion);
  });
});
