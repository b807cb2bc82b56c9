import type { JsonValue } from "@bufbuild/protobuf";

/** The longest account name, in characters (a DNS name's limit, as Kubernetes account names go). */
const MAX_NAME_LENGTH = 253;

// Cc covers C0, DEL and C1 controls.
const CONTROL = /\p{Cc}/u;
const EDGE_SPACE = /^\s|\s$/u;

/**
 * Why `name` cannot be an account name (design section 8, Names), or undefined when it can.
 * Names travel in URL paths and log lines, hence no `/` and no control characters.
 */
export function nameProblem(name: unknown): string | undefined {
  if (typeof name !== "string") return name === undefined ? "name is required" : "name must be a string";
  const length = [...name].length;
  if (length === 0) return "name must not be empty";
  if (length > MAX_NAME_LENGTH) return `name is ${length} characters long; at most ${MAX_NAME_LENGTH} are allowed`;
  if (name.includes("/")) return "name must not contain '/'";
  if (CONTROL.test(name)) return "name must not contain control characters";
  if (EDGE_SPACE.test(name)) return "name must not start or end with whitespace";
  return undefined;
}

/** The path of the first key or string under `value` that holds a NUL character, if any. */
export function nulPath(value: JsonValue, path: string): string | undefined {
  if (typeof value === "string") return value.includes("\u0000") ? path : undefined;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = nulPath(item, `${path}[${i}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value === null || typeof value !== "object") return undefined;
  for (const [key, inner] of Object.entries(value)) {
    const here = path === "" ? key : `${path}.${key}`;
    if (key.includes("\u0000")) return here;
    const found = nulPath(inner, here);
    if (found !== undefined) return found;
  }
  return undefined;
}
