// The pure decisions of an autoscan tick and the name patterns, without a database.
import { describe, expect, it } from "vitest";
import { planScan, unhanded } from "../../src/clouddriver/autoscan-plan.js";
import type { TrackedAccount } from "../../src/clouddriver/autoscan-store.js";
import type { ClouddriverStamp } from "../../src/store/clouddriver-accounts.js";
import { isGlob, likePattern, likePatterns } from "../../src/store/name-patterns.js";

const stamp = (name: string, lastModifiedAt = 2_000, type = "kubernetes:agent"): ClouddriverStamp => ({ name, type, lastModifiedAt });

function tracked(name: string, fields: Partial<TrackedAccount> = {}): TrackedAccount {
  return {
    name,
    source: "clouddriver",
    origin: "autoscan",
    type: "kubernetes",
    status: "ACTIVE",
    zoneId: null,
    definition: { name },
    agentDefinition: null,
    lastAssignmentMsg: "",
    failedCount: 0,
    clouddriverLastModified: 1_000,
    createdAt: new Date(0),
    updatedAt: new Date(0),
    version: 1,
    ...fields,
  };
}

const plan = (handed: ClouddriverStamp[], rows: TrackedAccount[], newLimit = 10, stillInTable: string[] = []) =>
  planScan({ handed, tracked: rows, stillInTable: new Set(stillInTable), newLimit });

describe("name patterns", () => {
  it("a pattern without * or ? is a prefix; with them a glob over the whole name", () => {
    expect(isGlob("team-")).toBe(false);
    expect(likePattern("team-")).toBe("team-%");
    expect(isGlob("prod-*-east")).toBe(true);
    expect(likePattern("prod-*-east")).toBe("prod-%-east");
    expect(likePattern("qa-?")).toBe("qa-_");
  });

  it("LIKE's own % _ and \\ match themselves", () => {
    expect(likePattern("a_b%")).toBe("a\\_b\\%%");
    expect(likePattern("x\\*")).toBe("x\\\\%");
  });

  it("leaves out empty patterns and duplicates", () => {
    expect(likePatterns(["", "a", "a", "b*"])).toEqual(["a%", "b%"]);
  });
});

describe("planScan", () => {
  it("takes at most newLimit new accounts in the given (byte) order and counts the rest as waiting", () => {
    const p = plan([stamp("a"), stamp("b"), stamp("c")], [], 2);
    expect(p.fresh.map((s) => s.name)).toEqual(["a", "b"]);
    expect(p.waiting).toBe(1);
  });

  it("skips rows whose names cannot be account names", () => {
    const p = plan([stamp("ok"), stamp("has/slash"), stamp(" padded")], []);
    expect(p.fresh.map((s) => s.name)).toEqual(["ok"]);
    expect(p.unusable).toEqual(["has/slash", " padded"]);
  });

  it("refreshes copied accounts (autoscan, migrated) whose row is newer, and nothing else", () => {
    const rows = [
      tracked("newer"),
      tracked("same", { clouddriverLastModified: 2_000 }),
      tracked("migrated", { origin: "migrated" }),
      tracked("created", { origin: "created", clouddriverLastModified: null }),
      tracked("intercepted", { origin: "interceptor", clouddriverLastModified: null }),
      tracked("static", { source: "static-agent-config", origin: "static", clouddriverLastModified: null }),
      tracked("deleting", { status: "DELETING" }),
    ];
    const p = plan(rows.map((r) => stamp(r.name)), rows);
    expect(p.fresh).toEqual([]);
    expect(p.refresh.map((r) => [r.row.name, r.activate])).toEqual([
      ["newer", false],
      ["migrated", false],
    ]);
  });

  it("an autoscan account whose row came back is refreshed, and activated again when INACTIVE", () => {
    const rows = [tracked("back-inactive", { status: "INACTIVE", clouddriverLastModified: null }), tracked("back-active", { clouddriverLastModified: null })];
    const p = plan([stamp("back-active", 500), stamp("back-inactive", 500)], rows);
    expect(p.refresh.map((r) => [r.row.name, r.activate])).toEqual([
      ["back-active", false],
      ["back-inactive", true],
    ]);
  });

  it("a gone autoscan row: served accounts are deactivated, INACTIVE ones noted, those on their way out left to the hub", () => {
    const rows = [
      tracked("active"),
      tracked("orphaned", { status: "ORPHANED" }),
      tracked("failed", { status: "FAILED" }),
      tracked("inactive", { status: "INACTIVE" }),
      tracked("to-deactivate", { status: "TO_DEACTIVATE" }),
      tracked("deactivating", { status: "DEACTIVATING" }),
      tracked("deleting", { status: "DELETING" }),
      tracked("dealt-with", { status: "INACTIVE", clouddriverLastModified: null }),
      tracked("reactivated-by-operator", { status: "ACTIVE", clouddriverLastModified: null }),
    ];
    const p = plan([], rows);
    expect(p.removals.map((r) => [r.row.name, r.step])).toEqual([
      ["active", "deactivate"],
      ["orphaned", "deactivate"],
      ["failed", "deactivate"],
      ["inactive", "note"],
    ]);
  });

  it("a row that only stopped matching (type or pattern) is not gone; migrated accounts are never deactivated", () => {
    const rows = [tracked("retyped"), tracked("migrated", { origin: "migrated" })];
    expect(unhanded([], rows).map((r) => r.name)).toEqual(["retyped"]);
    expect(plan([], rows, 10, ["retyped"]).removals).toEqual([]);
  });
});
