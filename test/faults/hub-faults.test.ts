import { createServer, type AddressInfo } from "node:net";
import postgres from "postgres";
import { afterEach, describe, expect, it } from "vitest";
import { eventually } from "../support/eventually.js";
import { POSTGRES_URL } from "../support/databases.js";
import { startCluster, type Cluster } from "../replicas/support/cluster.js";
import { call } from "../support/rest.js";
import { connectRoamingAgent, type RoamingAgent } from "../replicas/support/roaming-agent.js";

const ACCOUNTS = 60;
const AGENTS = 4;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Every account ACTIVE, each with exactly one caching holder among the connected agents. */
async function allActive(cluster: Cluster, names: string[]): Promise<void> {
  await eventually(async () => {
    const statuses = await cluster.statuses();
    const holders = await cluster.holders();
    const wrong = names.filter((n) => statuses.get(n) !== "ACTIVE" || (holders.get(n) ?? []).filter((h) => h.caching).length !== 1);
    expect(wrong, `not ACTIVE with one caching holder: ${wrong.slice(0, 5).join(", ")}`).toEqual([]);
  }, 30_000);
}

/**
 * Faults of the hub's process and its database connections, on a hub running as a child process
 * (PostgreSQL only: PGlite cannot be shared with a second process). Agents reconnect like real
 * ones. After each fault every account must reach a correct state.
 */
describe("hub faults during activation (PostgreSQL)", () => {
  let cluster: Cluster | undefined;
  const agents: RoamingAgent[] = [];
  afterEach(async () => {
    for (const a of agents.splice(0)) a.close();
    await cluster?.stop();
    cluster = undefined;
  });

  async function setUp(env: Record<string, string>): Promise<{ url: string; names: string[] }> {
    const port = await freePort();
    // A fixed port, so that a restarted hub is where its agents reconnect; PGAPPNAME tags its connections.
    cluster = await startCluster(["fault-hub"], { PORT: String(port), AGENT_HUB_HUB_LEASE_TTL: "10s", ...env }, (hubId, schema) => ({ PGAPPNAME: `agent-hub-fault-${hubId}-${schema}` }));
    const [hub] = cluster.replicas;
    for (let i = 0; i < AGENTS; i++) agents.push(connectRoamingAgent([hub!.target], { agentId: `fa-${i}`, zoneId: "fz" }));
    for (const a of agents) await a.current.waitFor("welcome", undefined, 15_000);
    const names = Array.from({ length: ACCOUNTS }, (_, i) => `fault-${i}`);
    expect((await call(hub!.url, "POST", "/armory/accounts/dynamic", names.map((name) => ({ name, zoneId: "fz", kubeconfigFile: `/k/${name}` })))).status).toBe(202);
    return { url: hub!.url, names };
  }

  it("PostgreSQL connections killed mid-batch: every 202'd activation is applied", async () => {
    const { url, names } = await setUp({});
    const c = cluster!;
    const appName = `agent-hub-fault-fault-hub-${c.database.schema}`;
    const admin = postgres(POSTGRES_URL, { max: 1, onnotice: () => {} });
    let killed = 0;
    try {
      expect((await call(url, "PATCH", "/armory/accounts/dynamic", names.map((name) => ({ name, state: "ACTIVE" })))).status).toBe(202);
      for (let round = 0; round < 3; round++) {
        const cut = await admin<{ pid: number }[]>`SELECT pg_terminate_backend(pid) AS pid FROM pg_stat_activity WHERE application_name = ${appName}`;
        killed += cut.length;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      await admin.end();
    }
    // A hub that dies of postgres.js 3.4.9's write on a closed socket (porsager/postgres#1154) is restarted, as Kubernetes would.
    const crashed = c.replicas[0]!.diagnostics().exit !== undefined;
    if (crashed) await c.restart(0);
    await allActive(c, names);
    console.log(`connections killed mid-batch: ${killed} backends terminated in 3 rounds, hub ${crashed ? "crashed (postgres.js bug) and was restarted" : "survived"}; ${ACCOUNTS}/${ACCOUNTS} accounts ACTIVE with one caching holder`);
  }, 60_000);

  it("SIGTERM during activation: after the restart every account is ACTIVE", async () => {
    const { url, names } = await setUp({});
    const c = cluster!;
    expect((await call(url, "PATCH", "/armory/accounts/dynamic", names.map((name) => ({ name, state: "ACTIVE" })))).status).toBe(202);
    const statusesAtStop = await c.statuses();
    await c.replicas[0]!.stop();
    const active = [...statusesAtStop.values()].filter((st) => st === "ACTIVE").length;
    await c.restart(0);
    await allActive(c, names);
    console.log(`SIGTERM during activation: ${active}/${ACCOUNTS} ACTIVE at the signal; after the restart ${ACCOUNTS}/${ACCOUNTS} ACTIVE with one caching holder`);
  }, 60_000);
});
