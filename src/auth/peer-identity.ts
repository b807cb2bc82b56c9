import type { TLSSocket } from "node:tls";
import { createContextKey, createContextValues, type ContextValues } from "@connectrpc/connect";

/** What the TLS layer says about the client: a certificate verified against `tls.clientCaFile`, if any. */
export interface PeerIdentity {
  /** Subject CN and DNS SANs of a verified client certificate; empty without one. */
  names: readonly string[];
}

const NONE: PeerIdentity = { names: [] };

/** The peer of the current call, from the connection (set for every call by the listeners' context values). */
export const peerKey = createContextKey<PeerIdentity>(NONE, { description: "TLS peer" });

/** One identity per TLS connection: HTTP/2 carries many calls on one. */
const byConnection = new WeakMap<object, PeerIdentity>();

function identityOf(socket: TLSSocket): PeerIdentity {
  // Only a certificate that chains to the client CA counts; the listener asks for one without
  // requiring it, so that a connection without one can still authenticate with a token.
  if (socket.authorized !== true || typeof socket.getPeerCertificate !== "function") return NONE;
  const cert = socket.getPeerCertificate();
  const names: string[] = [];
  const cn = cert.subject?.CN;
  if (typeof cn === "string") names.push(cn);
  else if (Array.isArray(cn)) names.push(...(cn as string[]));
  for (const part of (cert.subjectaltname ?? "").split(",")) {
    const san = part.trim();
    if (san.startsWith("DNS:")) names.push(san.slice(4));
  }
  return { names };
}

/** The request shape both Node HTTP stacks share as far as the connection goes. */
interface RequestWithSocket {
  socket: unknown;
  stream?: { session?: { socket?: unknown } };
}

/** The peer identity of a Node request (HTTP/1.1 or HTTP/2); none on a plaintext connection. */
function peerIdentityOf(req: RequestWithSocket): PeerIdentity {
  const socket = (req.stream?.session?.socket ?? req.socket) as TLSSocket | undefined;
  if (socket === undefined || socket === null || (socket as { encrypted?: boolean }).encrypted !== true) return NONE;
  let identity = byConnection.get(socket);
  if (identity === undefined) {
    identity = identityOf(socket);
    byConnection.set(socket, identity);
  }
  return identity;
}

/** The context values every call starts with: its TLS peer. For connectNodeAdapter and the REST transcoder. */
export function peerContextValues(req: RequestWithSocket): ContextValues {
  return createContextValues().set(peerKey, peerIdentityOf(req));
}
