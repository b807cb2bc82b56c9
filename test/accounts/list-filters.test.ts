// GET /armory/accounts filters and GET /armory/agents version, labels and zoneId (design section 16),
// over REST with plain fetch on both databases.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AccountSource, AccountStatus } from "../../src/model/account-states.js";
import { prefixEnd } from "../../src/store/account-filter.js";
import { DATABASE_KINDS } from "../support/databases.js";
import { startTestHub, type TestHub } from "../support/hub.js";
import { connectTestAgent, type TestAgent } from "../hub/support/test-agent.js";
import { detailFields, expectError, insertAccount } from "./support.js";
import { call } from "../support/rest.js";
import { eventually } from "../support/eventually.js";

interface Page {
  items: { name: string; status: string; zoneId: string; source: string }[];
  page: number;
  limit: number;
  total: number;
}

/** The accounts the tests store: name, status, zone ("" unpinned), source. */
const ROWS: [string, AccountStatus, string, AccountSource][] = [
  ["f-a1", "FAILED", "a", "clouddriver"],
  ["f-a2", "ORPHANED", "a", "clouddriver"],
  ["f-a3", "ACTIVE", "a", "clouddriver"],
  ["f-b1", "FAILED", "b", "clouddriver"],
  ["f-b2", "INACTIVE", "b", "clouddriver"],
  ["f-u1", "INACTIVE", "", "clouddriver"],
  ["f-s1", "ACTIVE", "a", "static-agent-config"],
  ["F-upper", "FAILED", "a", "clouddriver"],
  // LIKE metacharacters and a prefix whose end needs a carry in byte order.
  ["f_%x", "INACTIVE", "b", "clouddriver"],
  ["fä-1", "INACTIVE", "b", "clouddriver"],
  ["f\u{10FFFF}z", "INACTIVE", "b", "clouddriver"],
  ["g-1", "INACTIVE", "b", "clouddriver"],
];

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** The stored names that `keep` selects, in byte order: what a filtered list must show. */
const expected = (keep: (r: (typeof ROWS)[number]) => boolean) => ROWS.filter(keep).map((r) => r[0]).sort(byteOrder);

describe("prefixEnd", () => {
  it("raises the last code point, carrying past U+10FFFF and skipping surrogates", () => {
    expect(prefixEnd("ab")).toBe("ac");
    expect(prefixEnd("a\u{10FFFF}")).toBe("b");
    expect(prefixEnd("a\uD7FF")).toBe("a\uE000");
    expect(prefixEnd("\u{10FFFF}")).toBeUndefined();
  });
});

describe.each(DATABASE_KINDS)("list filters on %s", (kind) => {
  let hub: TestHub;
  let agents: TestAgent[] = [];
  const list = async (query: string) => {
    const answer = await call(hub, "GET", `/armory/accounts?${query}`);
    expect(answer.status, answer.text).toBe(200);
    return answer.json as Page;
  };
  const names = async (query: string) => (await list(query)).items.map((i) => i.name);

  beforeAll(async () => {
    hub = await startTestHub(kind);
    for (const [name, status, zone, source] of ROWS) {
      await insertAccount(hub.app.database, { name, status, zoneId: zone === "" ? null : zone, source, origin: source === "clouddriver" ? "created" : "static" });
    }
  });
  afterAll(async () => {
    for (const a of agents) a.close();
    await hub.stop();
  });

  it("status is repeatable; total counts the filtered set, while the unfiltered total stays all accounts", async () => {
    const failed = await list("status=FAILED&status=ORPHANED&limit=2");
    const want = expected((r) => r[1] === "FAILED" || r[1] === "ORPHANED");
    expect(failed).toMatchObject({ page: 1, limit: 2, total: want.length });
    expect(failed.items.map((i) => i.name)).toEqual(want.slice(0, 2));
    expect(await names("status=FAILED&status=ORPHANED&page=2&limit=2")).toEqual(want.slice(2, 4));
    expect((await list("")).total).toBe(ROWS.length);
  });

  it("zoneId is exact, and an empty zoneId selects unpinned accounts", async () => {
    expect(await names("zoneId=a")).toEqual(expected((r) => r[2] === "a"));
    expect(await names("zoneId=")).toEqual(["f-u1"]);
    expect((await list("zoneId=A")).total).toBe(0);
  });

  it("source selects static or hub-stored accounts", async () => {
    expect(await names("source=static-agent-config")).toEqual(["f-s1"]);
    expect((await list("source=clouddriver")).total).toBe(ROWS.length - 1);
  });

  it("namePrefix is case-sensitive, byte order, and LIKE metacharacters are plain text", async () => {
    expect(await names("namePrefix=f-")).toEqual(expected((r) => r[0].startsWith("f-")));
    expect(await names("namePrefix=F")).toEqual(["F-upper"]);
    expect(await names(`namePrefix=${encodeURIComponent("f_%")}`)).toEqual(["f_%x"]);
    expect(await names(`namePrefix=${encodeURIComponent("f_")}`)).toEqual(["f_%x"]);
    expect(await names(`namePrefix=${encodeURIComponent("fä")}`)).toEqual(["fä-1"]);
    expect(await names(`namePrefix=${encodeURIComponent("f\u{10FFFF}")}`)).toEqual(["f\u{10FFFF}z"]);
    expect((await list("namePrefix=f")).total).toBe(expected((r) => r[0].startsWith("f")).length);
  });

  it("filters combine with AND", async () => {
    const page = await list("status=FAILED&zoneId=a&namePrefix=f-");
    expect(page.items.map((i) => i.name)).toEqual(["f-a1"]);
    expect(page.total).toBe(1);
    expect(await names("status=INACTIVE&zoneId=b&source=clouddriver&namePrefix=f")).toEqual(expected((r) => r[1] === "INACTIVE" && r[2] === "b" && r[0].startsWith("f")));
  });

  it("a status that is not a state name, an unknown source or a control character → 400 naming the field", async () => {
    const details = expectError(await call(hub, "GET", "/armory/accounts?status=FAILED&status=failed"), 400, "invalid_argument");
    expect(detailFields(details)).toEqual(["status"]);
    expect(JSON.stringify(details)).toContain('\\"failed\\"');
    expect(detailFields(expectError(await call(hub, "GET", "/armory/accounts?source=github"), 400, "invalid_argument"))).toEqual(["source"]);
    expect(detailFields(expectError(await call(hub, "GET", "/armory/accounts?namePrefix=a%00"), 400, "invalid_argument"))).toEqual(["namePrefix"]);
  });

  it("GET /armory/agents shows version and labels from hello and filters by zoneId", async () => {
    const target = hub.url.replace("http://", "");
    agents = [
      connectTestAgent({ target, agentId: "ag-a", zoneId: "a", version: "1.2.3", labels: { team: "blue", tier: "gold" } }),
      connectTestAgent({ target, agentId: "ag-b", zoneId: "b", version: "", labels: {} }),
      connectTestAgent({ target, agentId: "ag-none", zoneId: "" }),
    ];
    await Promise.all(agents.map((a) => a.waitFor("welcome")));
    const all = await eventually(async () => {
      const list = (await call(hub, "GET", "/armory/agents")).json as Record<string, unknown>[];
      expect(list).toHaveLength(3);
      return list;
    });
    expect(all.find((a) => a.agentId === "ag-a")).toMatchObject({ zoneId: "a", version: "1.2.3", labels: { team: "blue", tier: "gold" } });
    expect(all.find((a) => a.agentId === "ag-b")).toMatchObject({ version: "", labels: {} });
    const zoneA = (await call(hub, "GET", "/armory/agents?zoneId=a")).json as { agentId: string }[];
    expect(zoneA.map((a) => a.agentId)).toEqual(["ag-a"]);
    const none = (await call(hub, "GET", "/armory/agents?zoneId=")).json as { agentId: string }[];
    expect(none.map((a) => a.agentId)).toEqual(["ag-none"]);
  });
});
