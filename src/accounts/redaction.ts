import type { JsonObject, JsonValue } from "@bufbuild/protobuf";

/** What the API shows instead of secret contents. */
const REDACTED = "<redacted>";

const SECRET_NAME = /token|password|secret/i;

/** Values the agent resolves itself (design section 5); they are not secrets and stay visible. */
function isSecretReference(value: unknown): boolean {
  return typeof value === "string" && (value.startsWith("encrypted:") || value.startsWith("encryptedFile:"));
}

function isSecretField(key: string): boolean {
  return key === "kubeconfigContents" || SECRET_NAME.test(key);
}

function redactValue(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(redactValue);
  if (value !== null && typeof value === "object") return redactDefinition(value);
  return value;
}

/**
 * A copy of an account definition fit to be shown: `kubeconfigContents` and every field whose
 * name contains token, password or secret (any case, at any depth, whatever its value's type) is
 * replaced by "<redacted>", unless its value is a secret reference.
 */
export function redactDefinition(definition: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(definition)) {
    out[key] = isSecretField(key) && !isSecretReference(value) ? REDACTED : redactValue(value);
  }
  return out;
}
