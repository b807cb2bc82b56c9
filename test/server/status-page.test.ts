// The status page at /ui in headless Chromium (Debian's chromium, driven by playwright-core), on
// both databases: accounts made ACTIVE, FAILED (the agent answers ERROR) and ORPHANED (no agent of
// their zone) through the API, the page's counts checked against them, a change picked up by the
// live refresh, and the token sent as a bearer token. The screenshot is kept in test-artifacts/.
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call } from "../support/rest.js";
import { eventually } from "../support/eventually.js";
import { connectTestAgent, type TestAgent } from "../hub/support/test-agent.js";
import { DATABASE_KINDS } from "../support/databases.js";
import { startTestHub, type TestHub } from "../support/hub.js";

const ARTIFACTS = join(import.meta.dirname, "..", "..", "test-artifacts");
const BAD_KUBECONFIG = "invalid kubeconfig: no current-context";

let browser: BrowserContext;

beforeAll(async () => {
  browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "agent-hub-chromium-")), {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"],
  });
});
afterAll(async () => {
  await browser?.close();
});

describe.each(DATABASE_KINDS)("status page on %s", (kind) => {
  let hub: TestHub;
  let agent: TestAgent;
  let page: Page;
  const status = async (name: string) => ((await call(hub, "GET", `/armory/accounts/${name}`)).json as { status: string }).status;
  /** The page's count for a state, as displayed. */
  const shown = (state: string) => page.locator(`#states tr[data-state="${state}"] td.count`).textContent();

  beforeAll(async () => {
    hub = await startTestHub(kind);
    agent = connectTestAgent({
      target: hub.url.replace("http://", ""),
      agentId: "ui-agent",
      zoneId: "ui-z",
      version: "3.1.4",
      onAccount: (name) => (name.startsWith("ui-bad") ? { outcome: "ERROR", message: BAD_KUBECONFIG } : { outcome: "OK" }),
    });
    await agent.waitFor("welcome");
    const created = await call(hub, "POST", "/armory/accounts/dynamic", [
      { name: "ui-ok", kubeconfigFile: "/k", zoneId: "ui-z" },
      { name: "ui-bad", kubeconfigFile: "/k", zoneId: "ui-z" },
      { name: "ui-lone", kubeconfigFile: "/k", zoneId: "ui-nobody" },
      { name: "ui-idle-1", kubeconfigFile: "/k" },
      { name: "ui-idle-2", kubeconfigFile: "/k" },
    ]);
    expect(created.status).toBe(202);
    const names = ["ui-ok", "ui-bad", "ui-lone"];
    expect((await call(hub, "PATCH", "/armory/accounts", names.map((name) => ({ name, state: "ACTIVE" })))).status).toBe(202);
    const final = { "ui-ok": "ACTIVE", "ui-bad": "FAILED", "ui-lone": "ORPHANED" } as const;
    for (const [name, want] of Object.entries(final)) await eventually(async () => expect(await status(name)).toBe(want));
    page = await browser.newPage();
    await page.goto(`${hub.url}/ui?refresh=300`);
    // Polled through locators: the page's CSP forbids evaluating strings, and this project has Node's types, not the DOM's.
    await page.locator("#updated", { hasText: /^updated/ }).waitFor({ timeout: 10_000 });
  });
  afterAll(async () => {
    await page?.close();
    agent?.close();
    await hub.stop();
  });

  it("shows accounts by state with the counts the API has", async () => {
    expect(await shown("ACTIVE")).toBe("1");
    expect(await shown("FAILED")).toBe("1");
    expect(await shown("ORPHANED")).toBe("1");
    expect(await shown("INACTIVE")).toBe("2");
    expect(await shown("DELETING")).toBe("0");
    expect(await page.locator("#total").textContent()).toBe("5 in all");
    expect(await page.locator("#error").isHidden()).toBe(true);
  });

  it("lists FAILED, then ORPHANED accounts with their lastAssignmentMsg", async () => {
    const rows = await page.locator("#attention tbody tr").evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent)));
    expect(rows).toHaveLength(2);
    expect(rows[0]!.slice(0, 3)).toEqual(["ui-bad", "FAILED", "ui-z"]);
    expect(rows[0]![3]).toContain(BAD_KUBECONFIG);
    expect(rows[1]!.slice(0, 3)).toEqual(["ui-lone", "ORPHANED", "ui-nobody"]);
    expect(rows[1]![3]).toContain("ui-nobody");
  });

  it("shows agents by zone with the counts of accounts held and cached", async () => {
    const agents = (await call(hub, "GET", "/armory/agents")).json as { zoneId: string; accounts: number; caching: number }[];
    const inZone = agents.filter((a) => a.zoneId === "ui-z");
    const row = await page.locator('#zones tr[data-zone="ui-z"] td').allTextContents();
    expect(row).toEqual([
      "ui-z",
      String(inZone.length),
      String(inZone.reduce((n, a) => n + a.accounts, 0)),
      String(inZone.reduce((n, a) => n + a.caching, 0)),
      "ui-agent (3.1.4)",
    ]);
    expect(row[3]).toBe("1");
  });

  it("refreshes by itself, and sends the token it is given as a bearer token (auth off: still works)", async () => {
    expect((await call(hub, "POST", "/armory/accounts/dynamic", { name: "ui-idle-3", kubeconfigFile: "/k" })).status).toBe(202);
    await expect.poll(() => shown("INACTIVE"), { timeout: 5_000 }).toBe("3");

    const sent: (string | undefined)[] = [];
    page.on("request", (r) => {
      if (r.url().includes("/armory/")) sent.push(r.headers()["authorization"]);
    });
    await page.fill("#token", "ui-secret-token");
    await page.click("#token-form button");
    await eventually(() => expect(sent.length).toBeGreaterThan(0));
    expect(sent[0]).toBe("Bearer ui-secret-token");
    const stored = await page.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem(key: string): string | null } }).sessionStorage.getItem("agentHubToken"));
    expect(stored).toBe("ui-secret-token");
    await expect.poll(() => shown("INACTIVE"), { timeout: 5_000 }).toBe("3");

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, kind === "pglite" ? "ui.png" : `ui-${kind}.png`), fullPage: true });
  });

  it("serves its files with a strict Content-Security-Policy; other methods and paths go to the API", async () => {
    const res = await fetch(`${hub.url}/ui`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect((await fetch(`${hub.url}/ui/app.js`)).headers.get("content-type")).toMatch(/^text\/javascript/);
    expect((await fetch(`${hub.url}/ui/nothing`)).status).toBe(404);
    expect((await fetch(`${hub.url}/ui`, { method: "POST" })).status).toBe(404);
  });
});
