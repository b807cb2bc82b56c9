import { createContextKey } from "@connectrpc/connect";

/**
 * Bytes a stream has written that have not left for the network yet (HTTP/2 flow control holds
 * them when the agent does not read). Node accepts writes into that buffer without pushing back,
 * so the outbox alone would never fill: the server sets this per request (app.ts), the agent
 * session adds it to its outbox bytes.
 */
export const wireBacklogKey = createContextKey<() => number>(() => 0, { description: "bytes written but not yet sent" });
