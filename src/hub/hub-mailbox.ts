import { createHash } from "node:crypto";
import { sql } from "drizzle-orm";
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { Logger } from "../log/logger.js";
import type { Database, Db } from "../store/database.js";
import type { Clock } from "./clock.js";

/** What one replica asks of another (design section 11). */
export type HubLetter =
  /** An account message (AddAccounts, SaveAccounts, DeleteAccounts) for an agent of the addressee, with what its answers mean. */
  | { kind: "account"; agentId: string; message: JsonValue; pending: { kind: "add" | "save" | "delete"; accounts: [string, boolean][]; demotions: string[] } }
  /** The agent reconnected to `byHub`: the addressee's stream of it is stale and must end. */
  | { kind: "drop"; agentId: string; byHub: string }
  /** Run an operation on an agent of the addressee and answer `replyTo`. */
  | { kind: "operation"; agentId: string; operationId: string; account: string; opKind: string; payload: JsonObject | null; replyTo: string }
  /** The answer to an operation this replica forwarded: the agent's result, or why there is none. */
  | { kind: "operation-result"; operationId: string; agentId: string; outcome: number; message: string; result: JsonObject | null }
  | { kind: "operation-failed"; operationId: string; code: number; message: string }
  /** The stream of an operation this replica forwarded ended unanswered (`sent`: the agent may have received it): look for the agent again. */
  | { kind: "operation-lost"; operationId: string; agentId: string; sent: boolean };

/** A letter and the replica it is for. */
export interface Addressed {
  hubId: string;
  letter: HubLetter;
}

export interface HubMailboxDeps {
  database: Database;
  hubId: string;
  clock: Clock;
  logger: Logger;
  /** How often the replica looks for letters without being notified. */
  sweepMs: number;
  /** Handles the letters of one drain, oldest first. */
  onLetters(letters: HubLetter[]): Promise<void>;
}

/** Letters between replicas: durable rows in `kubesvc_hub_messages` plus `NOTIFY`. */
export interface HubMailbox {
  /** Writes letters in `executor`'s transaction (or at once); the addressees are notified when it commits. */
  post(executor: Db, letters: readonly Addressed[]): Promise<void>;
  /** Listens for this replica's notifications and starts the sweep. */
  start(): Promise<void>;
  /** Stops listening and sweeping; waits for a drain in progress. */
  stop(): Promise<void>;
}

/** The NOTIFY channel of a replica: a plain identifier whatever characters the hub id has. */
function hubChannel(hubId: string): string {
  return `hub_${createHash("sha256").update(hubId).digest("hex").slice(0, 24)}`;
}

/** Letters taken per statement; a drain loops until none are left. */
const DRAIN_LIMIT = 500;

/**
 * Creates the mailbox. A letter is deleted when its addressee takes it, before it is acted on:
 * if the replica dies in between, the streams the letter was for died with it, and the lease
 * release re-places what those agents held, so nothing depends on the letter any more.
 */
export function createHubMailbox(deps: HubMailboxDeps): HubMailbox {
  const { database, hubId, clock, logger, sweepMs } = deps;
  const channel = hubChannel(hubId);
  let unlisten: (() => Promise<void>) | undefined;
  let stopSweep: (() => void) | undefined;
  let draining: Promise<void> | undefined;
  let again = false;
  let stopped = false;

  async function takeLetters(): Promise<HubLetter[]> {
    const rows = await database.rows<{ id: string | number; payload: HubLetter }>(sql`
      DELETE FROM kubesvc_hub_messages WHERE id IN (
        SELECT id FROM kubesvc_hub_messages WHERE hub_id = ${hubId} ORDER BY id LIMIT ${DRAIN_LIMIT} FOR UPDATE SKIP LOCKED)
      RETURNING id, payload`);
    return rows.sort((a, b) => Number(a.id) - Number(b.id)).map((r) => (typeof r.payload === "string" ? (JSON.parse(r.payload) as HubLetter) : r.payload));
  }

  async function drainAll(): Promise<void> {
    do {
      again = false;
      for (;;) {
        const letters = await takeLetters();
        if (letters.length > 0) await deps.onLetters(letters);
        if (letters.length < DRAIN_LIMIT) break;
      }
    } while (again && !stopped);
  }

  /** One drain at a time; a wake-up during a drain makes it look once more. */
  function drain(): void {
    if (stopped) return;
    if (draining !== undefined) {
      again = true;
      return;
    }
    draining = drainAll()
      .catch((err: unknown) => logger.warn({ err }, "reading letters from other hub replicas failed; the sweep tries again"))
      .finally(() => (draining = undefined));
  }

  return {
    async post(executor, letters) {
      if (letters.length === 0) return;
      const rows = letters.map((l) => ({ hub_id: l.hubId, agent_id: "agentId" in l.letter ? l.letter.agentId : "", payload: l.letter }));
      await executor.execute(sql`
        INSERT INTO kubesvc_hub_messages (hub_id, agent_id, payload)
        SELECT r.hub_id, r.agent_id, r.payload FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS r(hub_id text, agent_id text, payload jsonb)`);
      for (const to of new Set(letters.map((l) => l.hubId))) await executor.execute(sql`SELECT pg_notify(${hubChannel(to)}, '')`);
    },
    async start() {
      unlisten = await database.listen(channel, drain);
      stopSweep = clock.every(sweepMs, drain);
      drain();
    },
    async stop() {
      stopped = true;
      stopSweep?.();
      await draining;
      await unlisten?.();
    },
  };
}
