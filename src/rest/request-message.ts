import { create, mergeFromJson, type DescField, type JsonValue, type Message, type Registry } from "@bufbuild/protobuf";
import { isFieldError } from "@bufbuild/protobuf/reflect";
import { jsonFieldPath, nestJson, pathContains, resolveFieldPath } from "./field-path.js";
import type { HttpRoute } from "./http-rules.js";
import { isJsonValueField, setJsonValueField } from "./json-body-field.js";
import { invalidField } from "./json-errors.js";
import type { CapturedVariable } from "./path-template.js";
import { textTarget, textToJson, TextValueError } from "./text-values.js";

/** What a request brings besides the route: captured path variables, query and parsed body. */
export interface RequestParts {
  variables: CapturedVariable[];
  query: URLSearchParams;
  /** The parsed JSON body; undefined when the route takes none or the body was empty. */
  body: JsonValue | undefined;
}

/**
 * Builds the RPC's request message. The body goes in first, then path variables (so a path
 * value wins over the same field in a `*` body), then query parameters for the fields neither
 * binds. Every failure is a 400 invalid_argument naming the field or parameter.
 */
export function buildRequestMessage(route: HttpRoute, parts: RequestParts, registry: Registry): Message {
  const schema = route.method.input;
  const message = create(schema);
  const merge = (json: JsonValue): void => {
    mergeFromJson(schema, message, json, { ignoreUnknownFields: false, registry });
  };

  // Free-form JSON into a Value field stays JSON (json-body-field.ts); set last, since merging reads the message.
  const valueField = route.body.kind === "field" && route.body.path.length === 1 && isJsonValueField(route.body.path[0]!) ? route.body.path[0] : undefined;
  if (parts.body !== undefined && route.body.kind !== "none" && valueField === undefined) {
    const fieldName = route.body.kind === "all" ? "*" : jsonFieldPath(route.body.path);
    try {
      merge(route.body.kind === "all" ? parts.body : nestJson(route.body.path, parts.body));
    } catch (e) {
      const field = route.body.kind === "all" ? (failedFieldName(e) ?? "*") : fieldName;
      throw invalidField(field, `invalid request body: ${e instanceof Error ? e.message : String(e)}`, reasonOf(e));
    }
  }

  route.variables.forEach(({ path }, i) => {
    const value = parts.variables[i]!.value;
    const name = jsonFieldPath(path);
    try {
      merge(nestJson(path, textToJson(textTarget(path[path.length - 1]!)!, value)));
    } catch (e) {
      throw invalidField(name, `invalid path variable "${name}": ${reasonOf(e)}`, reasonOf(e));
    }
  });

  for (const key of new Set(parts.query.keys())) {
    const path = queryFieldPath(route, key);
    const leaf = path[path.length - 1]!;
    const target = textTarget(leaf)!;
    const values = parts.query.getAll(key);
    if (leaf.fieldKind !== "list" && values.length > 1) {
      throw invalidField(key, `query parameter "${key}" is given ${values.length} times`, "given more than once");
    }
    try {
      const json = leaf.fieldKind === "list" ? values.map((v) => textToJson(target, v)) : textToJson(target, values[0]!);
      merge(nestJson(path, json));
    } catch (e) {
      throw invalidField(key, `invalid query parameter "${key}": ${reasonOf(e)}`, reasonOf(e));
    }
  }
  if (valueField !== undefined && parts.body !== undefined) setJsonValueField(message, valueField, parts.body);
  return message;
}

/** Resolves a query parameter to the field it sets, or throws a 400 saying why it can't. */
function queryFieldPath(route: HttpRoute, key: string): DescField[] {
  const fail = (reason: string) => invalidField(key, `query parameter "${key}": ${reason}`, reason);
  if (route.body.kind === "all") throw fail("not accepted: the request body sets the whole request");
  const path = resolveFieldPath(route.method.input, key, true);
  if (typeof path === "string") throw fail("unknown query parameter");
  const overlaps = (bound: DescField[]): boolean => pathContains(bound, path) || pathContains(path, bound);
  if (route.body.kind === "field" && overlaps(route.body.path)) throw fail("set by the request body");
  if (route.variables.some((v) => overlaps(v.path))) throw fail("set by the path");
  if (textTarget(path[path.length - 1]!) === undefined) throw fail("this field cannot be set from the query string");
  return path;
}

/** The short reason of a protobuf-es JSON error (its FieldError cause), or our own. */
function reasonOf(e: unknown): string {
  if (e instanceof TextValueError) return e.message;
  const cause = e instanceof Error ? e.cause : undefined;
  if (isFieldError(cause)) return cause.message;
  return e instanceof Error ? e.message : String(e);
}

/** The JSON name of the field a protobuf-es JSON error is about, when it says. */
function failedFieldName(e: unknown): string | undefined {
  const cause = e instanceof Error ? e.cause : undefined;
  if (!isFieldError(cause)) return undefined;
  const field = cause.field();
  return "jsonName" in field ? field.jsonName : field.name;
}
