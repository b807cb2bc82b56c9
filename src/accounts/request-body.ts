import { toJson, type JsonObject, type JsonValue, type Message } from "@bufbuild/protobuf";
import { takeJsonBody } from "../rest/json-body-field.js";
import { ValueSchema, type Value } from "@bufbuild/protobuf/wkt";
import type { RequestProblems } from "./api-errors.js";

/** A JSON object of a request body, with the path that names it in errors: "[2]", or "" for a lone object. */
export interface BodyObject {
  at: string;
  object: JsonObject;
}

/** `key` inside the element at `at`: "[1].name", or "name" for a lone object. */
export function fieldPath(at: string, key: string): string {
  return at === "" ? key : `${at}.${key}`;
}

/** A JSON object, not an array or null. */
export function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * The JSON a free-form body field carried; undefined when the request had no body. A REST body
 * is taken as parsed, without the Value tree (src/rest/json-body-field.ts).
 */
export function bodyJson<K extends string>(request: Message & { [k in K]?: Value | undefined }, field: K): JsonValue | undefined {
  const rest = takeJsonBody(request, field);
  if (rest !== undefined) return rest;
  const value = request[field];
  if (value === undefined || value.kind.case === undefined) return undefined;
  return toJson(ValueSchema, value);
}

/** The most accounts one request may name (design section 15): bigger changes are split by the client. */
const MAX_ACCOUNTS_PER_REQUEST = 1000;

/** Reports a request naming more than MAX_ACCOUNTS_PER_REQUEST accounts; true when it does. */
export function reportTooMany(count: number, problems: RequestProblems): boolean {
  if (count <= MAX_ACCOUNTS_PER_REQUEST) return false;
  problems.fields.push({ field: "body", reason: `has ${count} accounts; at most ${MAX_ACCOUNTS_PER_REQUEST} are allowed in one request` });
  return true;
}

/** The objects of `items`, reporting each element that is not an object. */
function objectsOf(items: readonly JsonValue[], problems: RequestProblems): BodyObject[] {
  const objects: BodyObject[] = [];
  items.forEach((item, i) => {
    if (isJsonObject(item)) objects.push({ at: `[${i}]`, object: item });
    else problems.fields.push({ field: `[${i}]`, reason: "expected an account object" });
  });
  return objects;
}

/** The objects of a body that must be a non-empty JSON array of objects (migrate, PATCH). */
export function arrayOfObjects(body: JsonValue | undefined, shape: string, problems: RequestProblems): BodyObject[] {
  if (!Array.isArray(body)) {
    problems.fields.push({ field: "body", reason: `expected a JSON array of ${shape}` });
    return [];
  }
  if (body.length === 0) {
    problems.fields.push({ field: "body", reason: "the array is empty" });
    return [];
  }
  if (reportTooMany(body.length, problems)) return [];
  return objectsOf(body, problems);
}

/** The objects of a body that is one account object or a non-empty array of them (POST dynamic). */
export function objectOrArray(body: JsonValue | undefined, problems: RequestProblems): BodyObject[] {
  if (isJsonObject(body)) return [{ at: "", object: body }];
  return arrayOfObjects(body, "account objects, or one account object", problems);
}

/** Reports names given more than once in one request. */
export function reportDuplicates(names: readonly string[], problems: RequestProblems): void {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) twice.add(name);
    seen.add(name);
  }
  if (twice.size > 0) problems.names.push({ names: [...twice], reason: "given more than once in this request" });
}
