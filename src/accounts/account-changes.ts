import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { RequestProblems } from "./api-errors.js";
import { checkedName, normalizeFields } from "./account-definition.js";
import { arrayOfObjects, fieldPath, reportDuplicates, type BodyObject } from "./request-body.js";

/** The fields migrate and PATCH store into a definition, replacing what was there (design section 8). */
const OVERRIDE_FIELDS = ["zoneId", "kubeconfigFile", "kubeConfigFile", "kubeconfigContents", "serviceAccount"];

/** A state PATCH can ask for. */
export type TargetState = "ACTIVE" | "INACTIVE";

/** One element of a migrate or PATCH request. */
export interface AccountChangeRequest {
  name: string;
  /** The fields to store into the definition (`kubeConfigFile` already read as `kubeconfigFile`). */
  overrides: JsonObject;
}

/** One element of a PATCH request. */
export interface StateChangeRequest extends AccountChangeRequest {
  state: TargetState;
}

/** Checks the element's name and fields; any other field is in the wrong place and reported. */
function parseChange(element: BodyObject, allowed: readonly string[], problems: RequestProblems): AccountChangeRequest | undefined {
  const before = problems.fields.length;
  const name = checkedName(element, problems);
  for (const key of Object.keys(element.object)) {
    if (!allowed.includes(key)) {
      problems.fields.push({ field: fieldPath(element.at, key), reason: `unknown field; allowed: ${allowed.join(", ")}` });
    }
  }
  const { name: _name, state: _state, ...fields } = normalizeFields(element, problems);
  if (name === undefined || problems.fields.length > before) return undefined;
  return { name, overrides: fields };
}

/** The changes, after reporting names given twice. */
function checkNames<T extends { name: string }>(changes: T[], problems: RequestProblems): T[] {
  reportDuplicates(changes.map((c) => c.name), problems);
  return changes;
}

/** Parses POST /armory/accounts: `[{name, zoneId?, kubeconfigFile?, kubeconfigContents?, serviceAccount?}]`. */
export function parseMigrateRequest(body: JsonValue | undefined, problems: RequestProblems): AccountChangeRequest[] {
  const allowed = ["name", ...OVERRIDE_FIELDS];
  const elements = arrayOfObjects(body, "{name, zoneId?, kubeconfigFile?} objects", problems);
  const changes = elements.flatMap((e) => parseChange(e, allowed, problems) ?? []);
  return checkNames(changes, problems);
}

/** Parses PATCH /armory/accounts: `[{name, state: "ACTIVE"|"INACTIVE", zoneId?, ...}]`. */
export function parseStateChanges(body: JsonValue | undefined, problems: RequestProblems): StateChangeRequest[] {
  const allowed = ["name", "state", ...OVERRIDE_FIELDS];
  const elements = arrayOfObjects(body, "{name, state} objects", problems);
  const changes = elements.flatMap((element) => {
    const given = element.object.state;
    const state: TargetState | undefined = given === "ACTIVE" || given === "INACTIVE" ? given : undefined;
    if (state === undefined) {
      const reason = given === undefined ? "state is required" : `state must be "ACTIVE" or "INACTIVE" (got ${JSON.stringify(given)})`;
      problems.fields.push({ field: fieldPath(element.at, "state"), reason });
    }
    const change = parseChange(element, allowed, problems);
    return change === undefined || state === undefined ? [] : [{ ...change, state }];
  });
  return checkNames(changes, problems);
}

/** The definition with the given fields stored into it, replacing what was there. */
export function applyOverrides(definition: JsonObject, overrides: JsonObject): JsonObject {
  return { ...definition, ...overrides };
}
