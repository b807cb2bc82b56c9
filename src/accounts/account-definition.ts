import type { JsonObject } from "@bufbuild/protobuf";
import type { NewAccount } from "../store/account-store.js";
import type { RequestProblems } from "./api-errors.js";
import { nameProblem, nulPath } from "../model/account-names.js";
import { AccountSource, AccountStatus } from "../model/account-states.js";
import { fieldPath, type BodyObject } from "./request-body.js";

/** A validated account definition from a request. */
export interface AccountDefinition {
  name: string;
  /** As the user sent it, except that seed 002's `kubeConfigFile` is stored as `kubeconfigFile`. */
  definition: JsonObject;
}

/** Fields the hub itself reads, with the JSON type they must have. */
const FIELD_TYPES: Record<string, "string" | "boolean"> = {
  zoneId: "string",
  kubeconfigFile: "string",
  kubeConfigFile: "string",
  kubeconfigContents: "string",
  kubeconfigAgent: "string",
  serviceAccount: "boolean",
};

/**
 * Checks the type of every field of `object` that the hub reads and returns a copy with
 * `kubeConfigFile` renamed `kubeconfigFile` (giving both is ambiguous and reported). PostgreSQL's
 * jsonb cannot hold a NUL character, so one anywhere is reported too (the name has its own rule).
 */
export function normalizeFields(element: BodyObject, problems: RequestProblems): JsonObject {
  const { at, object } = element;
  const { name: _name, ...fields } = object;
  const nul = nulPath(fields, at);
  if (nul !== undefined) problems.fields.push({ field: nul, reason: "contains a NUL character (\\u0000), which cannot be stored" });
  for (const [key, type] of Object.entries(FIELD_TYPES)) {
    const value = object[key];
    if (value !== undefined && typeof value !== type) problems.fields.push({ field: fieldPath(at, key), reason: `must be a ${type}` });
  }
  if (!("kubeConfigFile" in object)) return { ...object };
  if ("kubeconfigFile" in object) {
    problems.fields.push({ field: fieldPath(at, "kubeConfigFile"), reason: "give kubeconfigFile or kubeConfigFile, not both" });
  }
  const { kubeConfigFile, ...rest } = object;
  return { ...rest, kubeconfigFile: kubeConfigFile ?? null };
}

function nonEmptyString(value: unknown): value is string {
  return typeof value === "string" && value !== "";
}

/** The name, checked; reports the problem at `[i].name`. */
export function checkedName(element: BodyObject, problems: RequestProblems): string | undefined {
  const problem = nameProblem(element.object.name);
  if (problem === undefined) return element.object.name as string;
  problems.fields.push({ field: fieldPath(element.at, "name"), reason: problem });
  return undefined;
}

/**
 * Validates one account definition of POST or PUT /armory/accounts/dynamic (design section 8):
 * a valid name, `type` absent or `kubernetes`, and credentials: `kubeconfigContents`,
 * `kubeconfigFile` or `serviceAccount: true`. Unknown fields are kept verbatim.
 */
export function parseDefinition(element: BodyObject, problems: RequestProblems): AccountDefinition | undefined {
  const before = problems.fields.length;
  const name = checkedName(element, problems);
  const definition = normalizeFields(element, problems);
  const type = definition.type;
  if (type !== undefined && type !== "kubernetes") {
    problems.fields.push({ field: fieldPath(element.at, "type"), reason: `type must be "kubernetes" (got ${JSON.stringify(type)})` });
  }
  if (!nonEmptyString(definition.kubeconfigContents) && !nonEmptyString(definition.kubeconfigFile) && definition.serviceAccount !== true) {
    problems.fields.push({
      field: element.at === "" ? "body" : element.at,
      reason: "an account needs kubeconfigContents, kubeconfigFile or serviceAccount: true",
    });
  }
  if (name === undefined || problems.fields.length > before) return undefined;
  return { name, definition };
}

/**
 * A definition from Clouddriver's table as the hub stores it: `kubeConfigFile` read as
 * `kubeconfigFile` (which wins when both are there; Clouddriver's rows cannot be refused).
 */
export function readClouddriverBody(name: string, body: Record<string, unknown>): JsonObject {
  const { kubeConfigFile, ...rest } = body as JsonObject;
  const file = rest.kubeconfigFile ?? kubeConfigFile;
  return { ...rest, name, ...(file === undefined ? {} : { kubeconfigFile: file }) };
}

/** The zone an account is pinned to, from its definition; null when unpinned. */
export function zoneIdOf(definition: JsonObject): string | null {
  return nonEmptyString(definition.zoneId) ? definition.zoneId : null;
}

/**
 * The definition agents get when `kubeconfigAgent` is set: `kubeconfigFile` is that path (a file
 * on the agent) and the inline contents are not sent. Null when agents get the definition itself.
 */
export function agentDefinitionOf(definition: JsonObject): JsonObject | null {
  const path = definition.kubeconfigAgent;
  if (!nonEmptyString(path)) return null;
  const { kubeconfigContents: _contents, kubeconfigAgent: _agent, ...rest } = definition;
  return { ...rest, kubeconfigFile: path };
}

/** The row of a new hub-stored account: INACTIVE until someone activates it (design section 4). */
export function newAccount(account: AccountDefinition, origin: string, clouddriverLastModified: number | null = null): NewAccount {
  return {
    name: account.name,
    source: AccountSource.CLOUDDRIVER,
    origin,
    status: AccountStatus.INACTIVE,
    zoneId: zoneIdOf(account.definition),
    definition: account.definition,
    agentDefinition: agentDefinitionOf(account.definition),
    clouddriverLastModified,
  };
}
