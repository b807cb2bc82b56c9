import { createContextKey } from "@connectrpc/connect";
import { matchesAny, matchesEverything } from "./globs.js";

/** What a credential may do (design section 14). */
export type Role = "agent" | "viewer" | "operator" | "admin";

export const ROLES: readonly Role[] = ["agent", "viewer", "operator", "admin"];

/** An authenticated caller: the credential's name (the audit actor), its role and its scope. */
export interface Principal {
  name: string;
  role: Role;
  /** Agent role: globs `hello.agent_id` must match. */
  agentIds: readonly string[];
  /** Agent role: zones hello may claim; other roles: zones of the accounts they see ("" = unpinned). */
  zones: readonly string[];
  /** Other roles: globs on the account names they see or change. */
  accounts: readonly string[];
}

/** Every caller when `auth.enabled` is false: an admin of everything, recorded as `anonymous`. */
export const ANONYMOUS: Principal = { name: "anonymous", role: "admin", agentIds: ["*"], zones: ["*"], accounts: ["*"] };

/** The caller of the current call, set by the auth interceptor before any handler runs. */
export const principalKey = createContextKey<Principal>(ANONYMOUS, { description: "caller" });

/** The accounts a caller may see or change. */
export interface AccountScope {
  /** True when the scope has no limits, so that queries need no filter. */
  readonly everything: boolean;
  readonly zones: readonly string[];
  readonly accounts: readonly string[];
  /** Whether an account of this name in this zone ("" = unpinned) is in scope. */
  allows(name: string, zoneId: string): boolean;
  /** Whether the account name globs allow this name. */
  allowsName(name: string): boolean;
  /** Whether this zone is in scope ("" = unpinned); for agents, GET /armory/agents. */
  allowsZone(zoneId: string): boolean;
}

/** The account scope of a caller. */
export function scopeOf(principal: Principal): AccountScope {
  const { zones, accounts } = principal;
  const everything = matchesEverything(zones) && matchesEverything(accounts);
  return {
    everything,
    zones,
    accounts,
    allows: (name, zoneId) => everything || (matchesAny(accounts, name) && matchesAny(zones, zoneId)),
    allowsName: (name) => matchesAny(accounts, name),
    allowsZone: (zoneId) => matchesAny(zones, zoneId),
  };
}
