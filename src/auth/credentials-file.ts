import { parse as parseYaml } from "yaml";
import { ROLES, type Principal, type Role } from "./principal.js";

/** One entry of the credentials file (design section 14, normative). */
export interface Credential extends Principal {
  /** SHA-256 of the bearer token, as 32 bytes; the token itself is never stored. */
  tokenSha256?: Buffer;
  /** Glob on the client certificate's subject CN or one of its DNS SANs. */
  certificate?: string;
}

/** A credentials file that cannot be used; the message names the entry and field. */
export class CredentialsFileError extends Error {
  override name = "CredentialsFileError";
}

const FIELDS = new Set(["name", "tokenSha256", "certificate", "role", "agentIds", "zones", "accounts"]);

function globList(entry: Record<string, unknown>, field: string, where: string): string[] {
  const value = entry[field];
  if (value === undefined) return ["*"];
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
    throw new CredentialsFileError(`${where}.${field}: expected a list of strings (globs)`);
  }
  return value;
}

/**
 * Parses the credentials file: a YAML list of `{name, tokenSha256 | certificate, role, agentIds?,
 * zones?, accounts?}`. Names are unique; each entry has exactly one of tokenSha256 (64 hex
 * digits) and certificate; `agentIds` belongs to the agent role and `accounts` to the others.
 * Unknown fields are refused, so that a misspelt scope does not silently widen to the default.
 */
export function parseCredentialsFile(text: string): Credential[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new CredentialsFileError(`not valid YAML: ${(err as Error).message.split("\n", 1)[0]}`);
  }
  if (doc === null || doc === undefined) return [];
  if (!Array.isArray(doc)) throw new CredentialsFileError("expected a YAML list of credentials");
  const names = new Set<string>();
  return doc.map((raw: unknown, i): Credential => {
    const where = `[${i}]`;
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new CredentialsFileError(`${where}: expected a mapping`);
    const entry = raw as Record<string, unknown>;
    for (const field of Object.keys(entry)) {
      if (!FIELDS.has(field)) throw new CredentialsFileError(`${where}.${field}: unknown field`);
    }
    const { name, tokenSha256, certificate, role } = entry;
    if (typeof name !== "string" || name.trim() === "") throw new CredentialsFileError(`${where}.name: expected a non-empty string`);
    if (names.has(name)) throw new CredentialsFileError(`${where}.name: ${JSON.stringify(name)} is already used by another credential`);
    names.add(name);
    const at = `${where} (${JSON.stringify(name)})`;
    if (typeof role !== "string" || !(ROLES as readonly string[]).includes(role)) {
      throw new CredentialsFileError(`${at}.role: expected one of ${ROLES.join(", ")}`);
    }
    if ((tokenSha256 === undefined) === (certificate === undefined)) {
      throw new CredentialsFileError(`${at}: needs exactly one of tokenSha256 and certificate`);
    }
    if (tokenSha256 !== undefined && (typeof tokenSha256 !== "string" || !/^[0-9a-fA-F]{64}$/.test(tokenSha256))) {
      throw new CredentialsFileError(`${at}.tokenSha256: expected 64 hex digits (the SHA-256 of the token)`);
    }
    if (certificate !== undefined && (typeof certificate !== "string" || certificate === "")) {
      throw new CredentialsFileError(`${at}.certificate: expected a non-empty glob`);
    }
    if (role === "agent" && entry.accounts !== undefined) throw new CredentialsFileError(`${at}.accounts: applies to viewer, operator and admin, not agent`);
    if (role !== "agent" && entry.agentIds !== undefined) throw new CredentialsFileError(`${at}.agentIds: applies to the agent role only`);
    return {
      name,
      role: role as Role,
      agentIds: globList(entry, "agentIds", at),
      zones: globList(entry, "zones", at),
      accounts: globList(entry, "accounts", at),
      ...(typeof tokenSha256 === "string" ? { tokenSha256: Buffer.from(tokenSha256, "hex") } : {}),
      ...(typeof certificate === "string" ? { certificate } : {}),
    };
  });
}
