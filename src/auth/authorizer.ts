import type { DescMethod, Message } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { NamesViolationSchema } from "../../gen/agenthub/v1/errors_pb.js";
import { grants, permissionFor } from "./access-policy.js";
import type { Authenticator } from "./authenticator.js";
import type { PeerIdentity } from "./peer-identity.js";
import { ANONYMOUS, scopeOf, type Principal } from "./principal.js";
import { FROM_CLOUDDRIVER, namesAccounts, requestTargets } from "./request-targets.js";

/** One call to decide on, however it arrived (gRPC, Connect, gRPC-Web or REST). */
export interface Call {
  method: DescMethod;
  /** The request message of a unary call; undefined for streams. */
  message: Message | undefined;
  header: Headers;
  peer: PeerIdentity;
}

/** Where the zones of named accounts come from: the hub's rows, and Clouddriver's for migrations. */
export interface ZoneLookup {
  /** The stored zone ("" = unpinned) of each named account that exists in the hub. */
  storedZones(names: readonly string[]): Promise<Map<string, string>>;
  /** The zone Clouddriver's row gives each named account (for migrate without zoneId). */
  clouddriverZones(names: readonly string[]): Promise<Map<string, string>>;
}

/** The one place that decides who may make a call (design section 14). */
export interface Authorizer {
  readonly enabled: boolean;
  /**
   * The caller of `call`, or UNAUTHENTICATED / PERMISSION_DENIED. For calls that change accounts
   * or run operations, every account the request names must be in the caller's scope, in its
   * present zone and in the zone the request would move it to: one out of scope refuses the call.
   * Reads are not refused for scope: their handlers show only what the scope allows.
   */
  authorize(call: Call): Promise<Principal>;
}

/** The design's 403. */
function permissionDenied(message: string, names: readonly string[] = []): ConnectError {
  const details = names.length === 0 ? [] : [{ desc: NamesViolationSchema, value: { names: [...names], reason: "outside the caller's scope" } }];
  return new ConnectError(message, Code.PermissionDenied, undefined, details);
}

/** Creates the authorizer; with `authenticator` undefined (auth off) every caller is ANONYMOUS. */
export function createAuthorizer(authenticator: Authenticator | undefined, zones: ZoneLookup): Authorizer {
  async function checkScope(principal: Principal, call: Call): Promise<void> {
    const scope = scopeOf(principal);
    if (scope.everything) return;
    if (call.message === undefined || !namesAccounts(call.method)) {
      throw permissionDenied(`credential ${JSON.stringify(principal.name)} is limited to some accounts and may not call ${call.method.name}`);
    }
    const targets = requestTargets(call.method, call.message);
    const names = [...new Set(targets.map((t) => t.name))];
    const stored = await zones.storedZones(names);
    const fromClouddriver = targets.filter((t) => t.zone === FROM_CLOUDDRIVER && !stored.has(t.name)).map((t) => t.name);
    const clouddriver = fromClouddriver.length === 0 ? new Map<string, string>() : await zones.clouddriverZones(fromClouddriver);
    const refused = new Set<string>();
    for (const t of targets) {
      const now = stored.get(t.name);
      const next = t.zone === FROM_CLOUDDRIVER ? (now === undefined ? (clouddriver.get(t.name) ?? "") : undefined) : t.zone;
      const allowed = scope.allowsName(t.name) && (now === undefined || scope.allowsZone(now)) && (next === undefined || scope.allowsZone(next));
      if (!allowed) refused.add(t.name);
    }
    if (refused.size > 0) {
      throw permissionDenied(`credential ${JSON.stringify(principal.name)} may not change or operate accounts outside its scope; nothing was done`, [...refused]);
    }
  }

  return {
    enabled: authenticator !== undefined,
    async authorize(call) {
      const permission = permissionFor(call.method);
      if (permission === "public") return ANONYMOUS;
      if (authenticator === undefined) return ANONYMOUS;
      const principal = await authenticator.authenticate(call.header.get("authorization"), call.peer);
      if (!grants(principal.role, permission)) {
        throw permissionDenied(`credential ${JSON.stringify(principal.name)} (role ${principal.role}) may not call ${call.method.parent.name}.${call.method.name}`);
      }
      if (permission === "operate" || permission === "write") await checkScope(principal, call);
      return principal;
    },
  };
}
