import { sql } from "drizzle-orm";
import { afterAll, afterEach, beforeAll } from "vitest";
import type { DatabaseKind } from "../../support/databases.js";
import { startTestHub, type TestHub } from "../../support/hub.js";
import { eventually } from "../../support/eventually.js";
import { call, type Answer } from "../../support/rest.js";
import type { ManualClock } from "../../support/manual-clock.js";
import { connectTestAgent, type TestAgent, type TestAgentOptions } from "./test-agent.js";

/** Short intervals for scenario tests: nothing waits for a default-sized timer. */
export const FAST = {
  "heartbeat.interval": "200ms",
  "heartbeat.missedLimit": 3,
  "dynamicAccounts.maxRetries": 1,
  "dynamicAccounts.retryFrequency": "150ms",
  operationTimeout: "400ms",
  "staticAccounts.cleanupAfter": "400ms",
  "hub.heartbeatInterval": "200ms",
};

/** An account as GET /armory/accounts/{name} shows it. */
export interface AccountJson {
  name: string;
  source: string;
  zoneId: string;
  status: string;
  lastAssignmentMsg: string;
  agents: { agentId: string; caching: boolean }[];
  config: Record<string, unknown>;
}

/** An agent as GET /armory/agents shows it. */
export interface AgentJson {
  agentId: string;
  zoneId: string;
  hubId: string;
  accounts: number;
  caching: number;
  connectedAt: string;
  lastHeartbeat: string;
}

/** A hub with helpers to drive it over REST, look at its tables and connect agents. */
export interface Scenario {
  hub: TestHub;
  /** The manual clock driving the hub's schedule (and the agents' heartbeats), if the test passed one. */
  clock: ManualClock | undefined;
  agents: TestAgent[];
  connect(options: Omit<TestAgentOptions, "target">): Promise<TestAgent>;
  /** Connects without waiting for welcome. */
  connectRaw(options: Omit<TestAgentOptions, "target">): TestAgent;
  /** `call` (test/support/rest.ts) to this hub. */
  rest(method: string, path: string, body?: unknown): Promise<Answer>;
  /** POST /armory/accounts/dynamic then PATCH ACTIVE. */
  createActive(definition: Record<string, unknown>): Promise<void>;
  account(name: string): Promise<AccountJson>;
  agentList(): Promise<AgentJson[]>;
  /** kubesvc_assignments rows of an account, sorted by agent. */
  holders(name: string): Promise<{ agentId: string; caching: boolean; hubId: string }[]>;
  /** kubesvc_accounts row fields the API does not show. */
  row(name: string): Promise<{ status: string; failedCount: number; source: string; origin: string; zoneId: string | null } | undefined>;
  /** Closes this test's agents, waits until the hub has released them, and empties the account tables. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts a hub with fast timers (and `overrides`) on the given database. With `clock`, the hub's
 * schedule and its agents' heartbeats move only when the test advances it.
 */
export async function startScenario(kind: DatabaseKind, overrides: Record<string, unknown> = {}, clock?: ManualClock): Promise<Scenario> {
  const hub = await startTestHub(kind, { ...FAST, ...overrides }, clock);
  const target = `127.0.0.1:${hub.app.port}`;
  const agents: TestAgent[] = [];
  const rows = <T extends Record<string, unknown>>(query: ReturnType<typeof sql>) => hub.app.database.rows<T>(query);

  const rest: Scenario["rest"] = (method, path, body) => call(hub, method, path, body);

  const scenario: Scenario = {
    hub,
    clock,
    agents,
    connectRaw(options) {
      const agent = connectTestAgent({ target, ...(clock === undefined ? {} : { clock }), ...options });
      agents.push(agent);
      return agent;
    },
    async connect(options) {
      const agent = scenario.connectRaw(options);
      await agent.waitFor("welcome");
      return agent;
    },
    rest,
    async createActive(definition) {
      const created = await rest("POST", "/armory/accounts/dynamic", definition);
      if (created.status !== 202) throw new Error(`create ${String(definition.name)}: ${created.status} ${JSON.stringify(created.json)}`);
      const activated = await rest("PATCH", "/armory/accounts/dynamic", [{ name: definition.name, state: "ACTIVE" }]);
      if (activated.status !== 202) throw new Error(`activate ${String(definition.name)}: ${activated.status} ${JSON.stringify(activated.json)}`);
    },
    async account(name) {
      const got = await rest("GET", `/armory/accounts/${encodeURIComponent(name)}`);
      if (got.status !== 200) throw new Error(`GET account ${name}: ${got.status} ${JSON.stringify(got.json)}`);
      return got.json as AccountJson;
    },
    async agentList() {
      const got = await rest("GET", "/armory/agents");
      if (got.status !== 200) throw new Error(`GET agents: ${got.status} ${JSON.stringify(got.json)}`);
      return got.json as AgentJson[];
    },
    async holders(name) {
      const found = await rows<{ agent_id: string; caching: number; hub_id: string }>(
        sql`SELECT agent_id, caching::int AS caching, hub_id FROM kubesvc_assignments WHERE account_name = ${name} ORDER BY agent_id`,
      );
      return found.map((r) => ({ agentId: r.agent_id, caching: Number(r.caching) === 1, hubId: r.hub_id }));
    },
    async row(name) {
      const [r] = await rows<{ status: string; failed_count: number; source: string; origin: string; zone_id: string | null }>(
        sql`SELECT status, failed_count, source, origin, zone_id FROM kubesvc_accounts WHERE name = ${name}`,
      );
      return r === undefined ? undefined : { status: r.status, failedCount: Number(r.failed_count), source: r.source, origin: r.origin, zoneId: r.zone_id };
    },
    async reset() {
      for (const a of agents.splice(0)) a.close();
      await eventually(async () => {
        const left = await rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM kubesvc_agents`);
        if (Number(left[0]?.n) !== 0) throw new Error("agents still registered");
      });
      await hub.app.database.db.execute(sql`DELETE FROM kubesvc_assignments`);
      await hub.app.database.db.execute(sql`DELETE FROM kubesvc_accounts`);
    },
    async stop() {
      for (const a of agents) a.close();
      await hub.stop();
    },
  };
  return scenario;
}

/** A minimal account definition (a kubeconfig file on the agent), optionally pinned to a zone. */
export function definition(name: string, zoneId?: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, kubeconfigFile: `/kube/${name}.yaml`, ...(zoneId === undefined ? {} : { zoneId }), ...extra };
}

/**
 * One hub per test file and database kind (opening PGlite costs seconds): started before the
 * tests, reset after each, stopped at the end. Returns an accessor for the running scenario.
 */
export function useScenario(kind: DatabaseKind, overrides: Record<string, unknown> = {}, clock?: ManualClock): () => Scenario {
  let scenario: Scenario | undefined;
  beforeAll(async () => {
    scenario = await startScenario(kind, overrides, clock);
  });
  afterEach(async () => {
    await scenario?.reset();
  });
  afterAll(async () => {
    await scenario?.stop();
  });
  return () => {
    if (scenario === undefined) throw new Error("the scenario hub did not start");
    return scenario;
  };
}

/** Records every status an account shows while `during` runs (polled), to prove it never passed through one. */
export async function statusesDuring(s: Scenario, name: string, during: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  let watching = true;
  const watch = (async () => {
    while (watching) {
      const r = await s.row(name);
      const status = r?.status ?? "(gone)";
      if (seen[seen.length - 1] !== status) seen.push(status);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  try {
    await during();
  } finally {
    watching = false;
    await watch;
  }
  return seen;
}
