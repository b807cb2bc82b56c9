import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import type { Hello } from "../../gen/agenthub/v1/agent_pb.js";
import type { Database } from "../store/database.js";
import { queryRows } from "../store/query-rows.js";
import { agentCredentials, agents } from "../store/schema.js";
import { matchesAny } from "./globs.js";
import { principalKey } from "./principal.js";

/** Checks a stream's hello against its credential before the hub registers the agent. */
export type HelloAuthorizer = (hello: Hello, ctx: HandlerContext) => Promise<void>;

/**
 * Design section 14: hello's `agent_id` and `zone_id` must be allowed by the credential's
 * `agentIds` and `zones`; and a stream may replace a connected agent's stream only under the
 * same credential name, whichever replica holds the old one. The credential of each agent id is
 * kept in `kubesvc_agent_credentials`; an agent counts as connected while its `kubesvc_agents`
 * row exists. Streams on this replica are also tracked in memory, so that two hellos racing
 * ahead of the engine's registration are still told apart. With auth off, nothing is checked.
 */
export function createHelloAuthorizer(database: Database, enabled: boolean): HelloAuthorizer {
  /** agent id → credential and how many of its streams are open here. */
  const local = new Map<string, { credential: string; streams: number }>();

  const refuse = (message: string) => new ConnectError(message, Code.PermissionDenied);

  return async (hello, ctx) => {
    if (!enabled) return;
    const principal = ctx.values.get(principalKey);
    const { agentId, zoneId } = hello;
    if (!matchesAny(principal.agentIds, agentId)) {
      throw refuse(`credential ${JSON.stringify(principal.name)} may not connect as agent ${JSON.stringify(agentId)}`);
    }
    if (!matchesAny(principal.zones, zoneId)) {
      throw refuse(`credential ${JSON.stringify(principal.name)} may not claim zone ${JSON.stringify(zoneId)}`);
    }
    const here = local.get(agentId);
    if (here !== undefined && here.credential !== principal.name) {
      throw refuse(`agent ${JSON.stringify(agentId)} is connected under another credential; its stream stays`);
    }
    // Reserved before the first await, so that a racing hello under another credential sees it.
    const entry = here ?? { credential: principal.name, streams: 0 };
    entry.streams++;
    local.set(agentId, entry);
    const release = () => {
      entry.streams--;
      if (entry.streams === 0 && local.get(agentId) === entry) local.delete(agentId);
    };
    try {
      const [elsewhere] = await queryRows<{ credential: string }>(
        database.db,
        sql`SELECT c.credential FROM ${agents} a JOIN ${agentCredentials} c ON c.agent_id = a.agent_id WHERE a.agent_id = ${agentId}`,
      );
      if (elsewhere !== undefined && elsewhere.credential !== principal.name) {
        throw refuse(`agent ${JSON.stringify(agentId)} is connected under another credential; its stream stays`);
      }
      await database.db
        .insert(agentCredentials)
        .values({ agentId, credential: principal.name })
        .onConflictDoUpdate({ target: agentCredentials.agentId, set: { credential: principal.name, updatedAt: sql`now()` } });
    } catch (err) {
      release();
      throw err;
    }
    if (ctx.signal.aborted) release();
    else ctx.signal.addEventListener("abort", release, { once: true });
  };
}
