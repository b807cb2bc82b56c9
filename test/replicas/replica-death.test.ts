import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/eventually.js";
import { connectTestAgent } from "../hub/support/test-agent.js";
import { startCluster, type Cluster } from "./support/cluster.js";
import { call } from "../support/rest.js";
import { connectRoamingAgent, type RoamingAgent } from "./support/roaming-agent.js";

const TRANSIENT = new Set(["TO_MIGRATE", "ACTIVATING", "TO_DEACTIVATE", "DEACTIVATING", "DELETING"]);

/**
 * Design section 11 and issue 5 item 5: kill -9 of a replica while agents are connected to both
 * replicas and accounts are being activated through both. Its agents reconnect to the survivor,
 * and every account ends ACTIVE with exactly one caching holder: none lost, none stuck. An agent
 * that does not come back is released once the dead replica's lease (1.5 s here) runs out.
 */
describe("a replica killed with -9", () => {
  let cluster: Cluster;
  const agents: RoamingAgent[] = [];
  beforeAll(async () => {
    cluster = await startCluster(["da", "db"]);
  });
  afterAll(async () => {
    for (const a of agents) a.close();
    await cluster.stop();
  });

  it("its agents move to the survivor and every account ends ACTIVE with one caching holder", async () => {
    const [a, b] = cluster.replicas as [Cluster["replicas"][0], Cluster["replicas"][0]];
    for (const zone of ["z1", "z2"]) {
      agents.push(connectRoamingAgent([a.target, b.target], { agentId: `${zone}-a`, zoneId: zone }));
      agents.push(connectRoamingAgent([b.target, a.target], { agentId: `${zone}-b`, zoneId: zone }));
    }
    for (const agent of agents) await agent.current.waitFor("welcome", undefined, 15_000);
    // An agent that dies with B and never comes back: only B's lease running out frees what it held.
    const stranded = connectTestAgent({ target: b.target, agentId: "z1-stranded", zoneId: "z1" });
    await stranded.waitFor("welcome", undefined, 15_000);

    const names = Array.from({ length: 60 }, (_, i) => `acct-${String(i).padStart(2, "0")}`);
    const zoneOf = (i: number) => (i % 3 === 0 ? undefined : i % 3 === 1 ? "z1" : "z2");
    const created = await call(
      a.url,
      "POST",
      "/armory/accounts/dynamic",
      names.map((name, i) => ({ name, kubeconfigFile: `/k/${name}`, ...(zoneOf(i) === undefined ? {} : { zoneId: zoneOf(i) }) })),
    );
    expect(created.status).toBe(202);

    /** PATCH ACTIVE on `via`; a request the dying replica never answered goes to the survivor. */
    const activate = async (via: string, batch: string[]) => {
      const body = batch.map((name) => ({ name, state: "ACTIVE" }));
      try {
        const res = await call(via, "PATCH", "/armory/accounts/dynamic", body);
        if (res.status === 202) return;
      } catch {
        // The replica died under the request.
      }
      expect((await call(a.url, "PATCH", "/armory/accounts/dynamic", body)).status).toBe(202);
    };

    const batches: string[][] = [];
    for (let i = 0; i < names.length; i += 5) batches.push(names.slice(i, i + 5));
    const inFlight: Promise<void>[] = [];
    let killedAt = 0;
    for (const [i, batch] of batches.entries()) {
      if (i === 6) {
        // Mid-activation: one request still on its way to B when B dies.
        inFlight.push(activate(b.url, batch));
        killedAt = Date.now();
        await b.kill();
        continue;
      }
      inFlight.push(activate(killedAt === 0 && i % 2 === 1 ? b.url : a.url, batch));
      if (killedAt === 0) await inFlight[inFlight.length - 1];
    }
    await Promise.all(inFlight);

    const final = await eventually(async () => {
      const statuses = await cluster.statuses();
      const holders = await cluster.holders();
      expect(statuses.size).toBe(names.length);
      for (const name of names) {
        expect(statuses.get(name), name).toBe("ACTIVE");
        const rows = holders.get(name) ?? [];
        expect(rows.filter((h) => h.caching), name).toHaveLength(1);
        for (const h of rows) expect(h.hubId, `${name} held via ${h.agentId}`).toBe("da");
      }
      return { statuses, holders };
    }, 25_000);
    const elapsed = Date.now() - killedAt;
    console.log(`replica kill -9 → all ${names.length} accounts ACTIVE with one caching holder on the survivor: ${elapsed} ms`);

    expect([...final.statuses.values()].filter((s) => TRANSIENT.has(s))).toEqual([]);
    expect([...final.holders.values()].flat().some((h) => h.agentId === "z1-stranded")).toBe(false);
    stranded.close();
    // Every agent is on the survivor now.
    for (const agent of agents) expect(agent.target).toBe(a.target);
  }, 60_000);
});
