import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload } from "jose";
import type { Logger } from "../log/logger.js";
import { ROLES, type Principal, type Role } from "./principal.js";
import { watchParsedFile, type WatchedFile } from "./watched-file.js";

/** `auth.jwt.*`: where the keys are and which tokens are meant for this hub. */
export interface JwtSettings {
  jwksFile: string;
  issuer: string;
  audience: string;
}

/** Verifies JWTs against a JWKS file that is re-read when it changes. */
export interface JwtVerifier {
  /** The principal a valid JWT names; throws with a reason when the token is not valid. */
  verify(token: string): Promise<Principal>;
  close(): void;
}

function parseJwks(text: string): ReturnType<typeof createLocalJWKSet> {
  const doc = JSON.parse(text) as JSONWebKeySet;
  if (doc === null || typeof doc !== "object" || !Array.isArray(doc.keys)) throw new Error("expected a JWKS object with a keys array");
  return createLocalJWKSet(doc);
}

function stringList(payload: JWTPayload, claim: string): string[] {
  const value = payload[claim];
  if (value === undefined) return ["*"];
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) throw new Error(`claim ${claim} must be a list of strings`);
  return value;
}

/**
 * A verifier for `auth.jwt.*` (design section 14) with `jose`: signature by a key of the JWKS,
 * `iss` and `aud` as configured, `exp`/`nbf` checked. `sub` is the credential name; the claims
 * `role`, `agentIds`, `zones` and `accounts` mean what the credentials file's fields mean.
 */
export function createJwtVerifier(settings: JwtSettings, logger: Logger): JwtVerifier {
  const keys: WatchedFile<ReturnType<typeof createLocalJWKSet>> = watchParsedFile(settings.jwksFile, "JWKS file (auth.jwt.jwksFile)", parseJwks, logger);
  return {
    async verify(token) {
      const { payload } = await jwtVerify(token, keys.current(), { issuer: settings.issuer, audience: settings.audience });
      const { sub, role } = payload;
      if (typeof sub !== "string" || sub === "") throw new Error("claim sub (the credential name) is missing");
      if (typeof role !== "string" || !(ROLES as readonly string[]).includes(role)) throw new Error(`claim role must be one of ${ROLES.join(", ")}`);
      return { name: sub, role: role as Role, agentIds: stringList(payload, "agentIds"), zones: stringList(payload, "zones"), accounts: stringList(payload, "accounts") };
    },
    close: () => keys.close(),
  };
}
