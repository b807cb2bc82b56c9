import type { DescMethod } from "@bufbuild/protobuf";
import type { Role } from "./principal.js";

/**
 * What a call needs (design section 14): nothing (health), the agent stream, reading, running
 * operations, or changing accounts.
 */
export type Permission = "public" | "connect" | "read" | "operate" | "write";

/** What each role may do. The agent stream is for agents alone: other roles do not speak for an agent. */
const GRANTS: Record<Role, ReadonlySet<Permission>> = {
  agent: new Set(["connect"]),
  viewer: new Set(["read"]),
  operator: new Set(["read", "operate"]),
  admin: new Set(["read", "operate", "write"]),
};

const PUBLIC_SERVICES = new Set(["grpc.health.v1.Health"]);
/** Server reflection describes the API, not its data: any credential may use it. */
const READ_SERVICES = new Set(["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"]);
const BY_METHOD: Record<string, Permission> = {
  "agenthub.v1.AgentService.Connect": "connect",
  "agenthub.v1.OperationService.Execute": "operate",
  "agenthub.v1.AccountsService.ListAccounts": "read",
  "agenthub.v1.AccountsService.GetAccount": "read",
  "agenthub.v1.AccountsService.GetAgentAccount": "read",
  "agenthub.v1.AccountsService.ListAgents": "read",
  "agenthub.v1.AccountsService.GetAccountHistory": "read",
};

/** What calling `method` needs. Every method not named here changes something: admins only. */
export function permissionFor(method: DescMethod): Permission {
  const service = method.parent.typeName;
  if (PUBLIC_SERVICES.has(service)) return "public";
  if (READ_SERVICES.has(service)) return "read";
  return BY_METHOD[`${service}.${method.name}`] ?? "write";
}

/** Whether `role` has `permission`. */
export function grants(role: Role, permission: Permission): boolean {
  return permission === "public" || GRANTS[role].has(permission);
}
