import { createHash, timingSafeEqual } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "../log/logger.js";
import { parseCredentialsFile, type Credential } from "./credentials-file.js";
import { matchesAny } from "./globs.js";
import { createJwtVerifier, type JwtSettings, type JwtVerifier } from "./jwt-verifier.js";
import type { PeerIdentity } from "./peer-identity.js";
import type { Principal } from "./principal.js";
import { watchParsedFile, type WatchedFile } from "./watched-file.js";

/** Who is calling, from the `authorization` header and the TLS peer. */
export interface Authenticator {
  /** The caller's principal; UNAUTHENTICATED (HTTP 401 with `WWW-Authenticate: Bearer`) otherwise. */
  authenticate(authorization: string | null, peer: PeerIdentity): Promise<Principal>;
  close(): void;
}

export interface AuthenticatorOptions {
  /** `auth.credentialsFile` ("" = none). */
  credentialsFile: string;
  /** `auth.jwt.*` (jwksFile "" = no JWTs). */
  jwt: JwtSettings;
  logger: Logger;
}

/** The design's 401: UNAUTHENTICATED, which REST and Connect answer with `WWW-Authenticate: Bearer`. */
function unauthenticated(message: string): ConnectError {
  return new ConnectError(message, Code.Unauthenticated, { "www-authenticate": "Bearer" });
}

/** A compact JWS: three base64url parts. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * Authenticates by bearer token (SHA-256 compared in constant time with every credential's
 * `tokenSha256`, or a JWT verified with `auth.jwt.*`) or by a verified client certificate whose
 * CN or DNS SAN matches a credential's `certificate` glob. A request that sends a bearer token is
 * judged by it alone: a bad token is refused even on a connection with a good certificate.
 */
export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const { logger } = options;
  const credentials: WatchedFile<Credential[]> | undefined =
    options.credentialsFile === "" ? undefined : watchParsedFile(options.credentialsFile, "credentials file (auth.credentialsFile)", parseCredentialsFile, logger);
  const jwt: JwtVerifier | undefined = options.jwt.jwksFile === "" ? undefined : createJwtVerifier(options.jwt, logger);
  const all = (): Credential[] => credentials?.current() ?? [];

  function byToken(token: string): Credential | undefined {
    const digest = createHash("sha256").update(token, "utf8").digest();
    let found: Credential | undefined;
    // Every credential is compared, found or not, so the time taken says nothing about which matched.
    for (const c of all()) {
      if (c.tokenSha256 !== undefined && timingSafeEqual(c.tokenSha256, digest) && found === undefined) found = c;
    }
    return found;
  }

  return {
    async authenticate(authorization, peer) {
      if (authorization !== null) {
        const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
        if (match === null) throw unauthenticated("the authorization header must be `Bearer <token>`");
        const token = match[1]!;
        const credential = byToken(token);
        if (credential !== undefined) return credential;
        if (jwt !== undefined && JWT_SHAPE.test(token)) {
          try {
            return await jwt.verify(token);
          } catch (err) {
            throw unauthenticated(`the bearer token is not a valid JWT for this hub: ${(err as Error).message}`);
          }
        }
        throw unauthenticated("the bearer token matches no credential");
      }
      if (peer.names.length > 0) {
        const credential = all().find((c) => c.certificate !== undefined && peer.names.some((n) => matchesAny([c.certificate!], n)));
        if (credential !== undefined) return credential;
        throw unauthenticated("the client certificate matches no credential");
      }
      throw unauthenticated("no credential: send `authorization: Bearer <token>` or a client certificate");
    },
    close() {
      credentials?.close();
      jwt?.close();
    },
  };
}
