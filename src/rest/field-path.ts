import type { DescField, DescMessage, JsonValue } from "@bufbuild/protobuf";

/**
 * Resolves a dotted field path (`shelf.id`) against a message. Every element but the last must
 * be a singular message field. `jsonNames` also accepts each element's JSON name, as query
 * parameters may use either spelling. Returns a reason string when the path does not resolve.
 */
export function resolveFieldPath(message: DescMessage, path: string, jsonNames = false): DescField[] | string {
  const fields: DescField[] = [];
  let current: DescMessage | undefined = message;
  const parts = path.split(".");
  for (const [i, part] of parts.entries()) {
    if (current === undefined) return `"${parts.slice(0, i).join(".")}" is not a message field`;
    const field: DescField | undefined = current.fields.find((f) => f.name === part || (jsonNames && f.jsonName === part));
    if (field === undefined) return `${current.typeName} has no field "${part}"`;
    fields.push(field);
    current = field.fieldKind === "message" ? field.message : undefined;
  }
  return fields;
}

/** The JSON spelling of a field path, as clients see it in bodies and error details. */
export function jsonFieldPath(fields: readonly DescField[]): string {
  return fields.map((f) => f.jsonName).join(".");
}

/** Wraps `value` in one JSON object per path element: `[shelf, id]` → `{shelf: {id: value}}`. */
export function nestJson(fields: readonly DescField[], value: JsonValue): JsonValue {
  let json = value;
  for (let i = fields.length - 1; i >= 0; i--) json = { [fields[i]!.jsonName]: json };
  return json;
}

/** Whether `inner` equals `outer` or lies inside it (`[shelf]` contains `[shelf, id]`). */
export function pathContains(outer: readonly DescField[], inner: readonly DescField[]): boolean {
  return outer.length <= inner.length && outer.every((f, i) => f === inner[i]);
}
