import { Code, ConnectError } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import type { Logger } from "../log/logger.js";
import type { Database } from "../store/database.js";
import type { AgentRegistry } from "./agent-registry.js";
import type { Clock } from "./clock.js";
import { formatDuration } from "./operator-messages.js";

export interface HeartbeatMonitorDeps {
  database: Database;
  registry: AgentRegistry;
  clock: Clock;
  logger: Logger;
  hubId: string;
  intervalMs: number;
  missedLimit: number;
}

/** Finds silent agents and keeps `kubesvc_agents.last_heartbeat` fresh. */
export interface HeartbeatMonitor {
  start(): void;
  /** Stops the timer and waits for a write in progress. */
  stop(): Promise<void>;
}

/**
 * One timer for all agents (no timer per stream): every half interval it closes the streams of
 * agents silent for `missedLimit` intervals, and once per interval it writes `last_heartbeat` for
 * every agent heard from since the last write, in one statement.
 */
export function createHeartbeatMonitor(deps: HeartbeatMonitorDeps): HeartbeatMonitor {
  const { database, registry, clock, logger, hubId, intervalMs, missedLimit } = deps;
  const silenceMs = intervalMs * missedLimit;
  const tickMs = Math.max(10, Math.floor(intervalMs / 2));
  let stopTimer: (() => void) | undefined;
  let lastWrite = clock.now();
  let writing: Promise<void> | undefined;

  async function writeHeartbeats(agentIds: string[]): Promise<void> {
    try {
      await database.db.execute(sql`
        UPDATE kubesvc_agents SET last_heartbeat = now()
        WHERE hub_id = ${hubId} AND agent_id IN (SELECT jsonb_array_elements_text(${JSON.stringify(agentIds)}::jsonb))`);
    } catch (err) {
      logger.warn({ err, agents: agentIds.length }, "could not record agent heartbeats");
    }
  }

  let lastTick = clock.now();

  function tick(): void {
    const now = clock.now();
    // A tick far behind its schedule means the event loop was busy: messages that arrived
    // meanwhile may sit unread in socket buffers, so silence is not judged until they are read.
    const late = now - lastTick > 3 * tickMs;
    lastTick = now;
    const heard: string[] = [];
    for (const session of [...registry.sessions()]) {
      if (!late && !session.readingPaused && now - session.lastSeen > silenceMs) {
        const reason = `missed ${missedLimit} heartbeats`;
        logger.warn({ agentId: session.agentId, silentMs: now - session.lastSeen }, "agent missed its heartbeats");
        session.close(reason, new ConnectError(`no message from agent ${session.agentId} for ${formatDuration(silenceMs)} (${reason})`, Code.Unavailable));
      } else if (session.lastSeen > lastWrite) {
        heard.push(session.agentId);
      }
    }
    if (now - lastWrite >= intervalMs && writing === undefined && heard.length > 0) {
      lastWrite = now;
      writing = writeHeartbeats(heard).finally(() => (writing = undefined));
    }
  }

  return {
    start() {
      lastTick = clock.now();
      // After the loop's next poll, so that heartbeats that arrived meanwhile are read first.
      stopTimer ??= clock.every(tickMs, () => setImmediate(tick));
    },
    async stop() {
      stopTimer?.();
      stopTimer = undefined;
      await writing;
    },
  };
}
