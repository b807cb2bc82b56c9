import { describe, expect, it } from "vitest";
import type { Database } from "../../src/store/database.js";
import { DATABASE_KINDS, openTestDatabase } from "../support/databases.js";
import { startHubOn } from "./support/custom-hub.js";
import { eventually } from "../support/eventually.js";
import { call } from "../support/rest.js";
import { connectTestAgent, type TestAgent } from "./support/test-agent.js";

/** The database with a gate: while it is closed, transactions wait for it to open (a busy engine). */
function gatedTransactions(database: Database): { database: Database; close(): void; open(): void } {
  let gate: Promise<void> | undefined;
  let openGate = () => {};
  const db = new Proxy(database.db, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (property !== "transaction" || typeof value !== "function") return value;
      return async (...args: unknown[]) => {
        if (gate !== undefined) await gate;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return {
    database: { ...database, db },
    close() {
      gate = new Promise((resolve) => (openGate = resolve));
    },
    open() {
      gate = undefined;
      openGate();
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Issue 9 item 3 (reconnect storm): an agent whose stream drops and who redials while the engine
 * is busy has its departure and its new hello queued together, with a batch-filling hello of
 * another agent between them. Hellos go first, and the departure never runs while its agent's
 * hello is queued: the agent keeps what it held (told again on its new stream) and nobody else
 * is promoted meanwhile. If the new stream ends before its hello is handled, the departure runs
 * after all.
 */
describe.each(DATABASE_KINDS)("a departure queued with its agent's new hello on %s", (kind) => {
  async function setUp() {
    const opened = await openTestDatabase(kind);
    const gated = gatedTransactions(opened);
    const app = await startHubOn(gated.database, { "heartbeat.interval": "2s", "limits.maxStaticAccounts": 2000 });
    const target = `127.0.0.1:${app.port}`;
    const agents: TestAgent[] = [];
    const dial = (agentId: string, zoneId = "rq", staticAccounts: { name: string; config: { name: string; kubeconfigFile: string } }[] = []) => {
      const agent = connectTestAgent({ target, agentId, zoneId, ownConnection: true, staticAccounts });
      agents.push(agent);
      return agent;
    };
    const first = dial("rq-a");
    const other = dial("rq-b");
    await Promise.all([first.waitFor("welcome"), other.waitFor("welcome")]);
    const url = `http://127.0.0.1:${app.port}`;
    const names = ["rq-1", "rq-2", "rq-3", "rq-4"];
    expect((await call(url, "POST", "/armory/accounts/dynamic", names.map((name) => ({ name, zoneId: "rq", kubeconfigFile: `/k/${name}` })))).status).toBe(202);
    expect((await call(url, "PATCH", "/armory/accounts/dynamic", names.map((name) => ({ name, state: "ACTIVE" })))).status).toBe(202);
    const roles = async () => {
      const listed = await call(url, "GET", "/armory/accounts?zoneId=rq&limit=10");
      return (listed.json as { items: { name: string; status: string; agents: { agentId: string; caching: boolean }[] }[] }).items;
    };
    await eventually(async () => {
      for (const account of await roles()) expect(account.status).toBe("ACTIVE");
    });
    const aCaches = (await roles()).filter((account) => account.agents.some((h) => h.agentId === "rq-a" && h.caching)).map((a) => a.name);
    expect(aCaches.length).toBeGreaterThan(0);
    /** Holds the engine in a batch (a newcomer's hello in another zone) until `release`. */
    const busyEngine = async () => {
      gated.close();
      dial(`rq-busy-${agents.length}`, "elsewhere");
      await sleep(100);
    };
    /**
     * A hello that fills a batch by itself (MAX_BATCH_WEIGHT rows: its 2,000 static accounts), so
     * that the departure queued before it and the hello queued after it cannot share a batch.
     */
    const heavyHello = () => {
      const name = `rq-heavy-${agents.length}`;
      dial(name, "heavy", Array.from({ length: 2000 }, (_, i) => ({ name: `${name}-s${i}`, config: { name: `${name}-s${i}`, kubeconfigFile: "/k/s" } })));
    };
    /**
     * While the engine is held: rq-a's stream drops, a batch-filling hello is queued, then rq-a
     * redials. Returns rq-a's new agent (its hello queued, not handled).
     */
    const redialBehindHeavyHello = async () => {
      await busyEngine();
      first.cancel();
      await sleep(100);
      heavyHello();
      await sleep(100);
      const again = dial("rq-a");
      await sleep(100);
      return again;
    };
    const release = () => gated.open();
    const cleanUp = async () => {
      gated.open();
      for (const a of agents) a.close();
      await app.close();
      await opened.close();
      await opened.dropSchema();
    };
    return { other, roles, aCaches, redialBehindHeavyHello, release, cleanUp };
  }

  it("keeps the agent's holdings for its new stream: nobody else is promoted", async () => {
    const s = await setUp();
    try {
      const otherBefore = s.other.received.length;
      const again = await s.redialBehindHeavyHello();
      s.release();
      await again.waitFor("welcome", undefined, 20_000);
      // Told again, on its new stream, what it holds: the same caching roles.
      await eventually(() => {
        const told = again.received.flatMap((m) => (m.kind === "save" || m.kind === "add" ? m.assignments.filter((a) => a.caching).map((a) => a.name) : []));
        expect(told.sort()).toEqual([...s.aCaches].sort());
      });
      await sleep(200);
      // The other agent heard nothing: no promotion, no handoff back.
      expect(s.other.received.slice(otherBefore)).toEqual([]);
      for (const account of await s.roles()) {
        expect(account.status).toBe("ACTIVE");
        expect(account.agents.find((h) => h.caching)?.agentId).toBe(s.aCaches.includes(account.name) ? "rq-a" : "rq-b");
      }
    } finally {
      await s.cleanUp();
    }
  });

  it("runs the departure after all when the new stream ends before its hello is handled", async () => {
    const s = await setUp();
    try {
      const again = await s.redialBehindHeavyHello();
      again.cancel();
      await sleep(100);
      s.release();
      // rq-a is gone: its caching roles pass to rq-b.
      await eventually(async () => {
        for (const account of await s.roles()) {
          expect(account.status).toBe("ACTIVE");
          expect(account.agents).toEqual([{ agentId: "rq-b", caching: true }]);
        }
      });
      // Told once committed: the table may show the role a moment before the message is on its way.
      await eventually(() => {
        const promoted = s.other.received.flatMap((m) => (m.kind === "save" ? m.assignments.filter((a) => a.caching).map((a) => a.name) : []));
        expect(promoted.sort(), JSON.stringify(s.other.received)).toEqual([...s.aCaches].sort());
      });
    } finally {
      await s.cleanUp();
    }
  });
});
