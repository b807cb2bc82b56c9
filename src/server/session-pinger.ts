import type * as http2 from "node:http2";
import type { NodeRequest } from "../rest/node-http.js";
import type { Clock } from "../hub/clock.js";

/** Sends HTTP/2 PINGs on every session that carries a request, and cuts sessions that stop answering. */
export interface SessionPinger {
  /** Starts watching the HTTP/2 session of this request (no-op for HTTP/1.1). */
  watch(req: NodeRequest): void;
  stop(): void;
}

/**
 * One timer for all sessions: every `intervalMs` each watched session gets a PING; a session whose
 * previous PING is still unanswered is destroyed, so a half-open TCP connection (peer gone without
 * FIN) is found within two intervals and the agent's stream ends like any other disconnect.
 */
export function createSessionPinger(intervalMs: number, clock: Clock): SessionPinger {
  const waiting = new Map<http2.Http2Session, boolean>();
  let lastTick = clock.now();
  const round = () => {
    for (const [session, outstanding] of waiting) {
      if (session.destroyed || session.closed) {
        waiting.delete(session);
      } else if (outstanding) {
        waiting.delete(session);
        session.destroy(new Error("HTTP/2 PING unanswered"));
      } else {
        waiting.set(session, true);
        const sent = session.ping((err) => {
          if (err === null && waiting.has(session)) waiting.set(session, false);
        });
        if (!sent) waiting.set(session, false);
      }
    }
  };
  const stopTimer = clock.every(intervalMs, () => {
    // A tick far behind schedule means the event loop was busy: PING acks may sit unread in the
    // socket buffers, so no session is judged in this round (design section 11). On time, the
    // round still runs after the loop's next poll (setImmediate), so acks that arrived while it
    // was busy are read first.
    const now = clock.now();
    const late = now - lastTick > 1.5 * intervalMs;
    lastTick = now;
    if (!late) setImmediate(round);
  });
  return {
    watch(req) {
      if (!("stream" in req)) return;
      const session = req.stream.session;
      if (session === undefined || waiting.has(session)) return;
      waiting.set(session, false);
      session.once("close", () => waiting.delete(session));
    },
    stop() {
      stopTimer();
      waiting.clear();
    },
  };
}
