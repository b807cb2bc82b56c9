import type { JsonValue } from "@bufbuild/protobuf";

/** The longest text from an agent (AccountResult.message, OperationResult.message) that is stored or shown. */
const MAX_AGENT_TEXT = 1024;

// Cc: C0 controls (NUL included), DEL and C1 controls. PostgreSQL refuses NUL in text, and
// control characters in an operator's message only garble terminals and logs.
const CONTROLS = /\p{Cc}+/gu;

/**
 * Agent text as the hub stores and shows it (design section 15): control characters become a
 * space, and the text is cut to 1,024 characters (code points, so no surrogate pair is split).
 */
export function cleanAgentText(text: string): string {
  const cleaned = text.replace(CONTROLS, " ");
  if (cleaned.length <= MAX_AGENT_TEXT) return cleaned;
  const points = [...cleaned];
  return points.length <= MAX_AGENT_TEXT ? cleaned : points.slice(0, MAX_AGENT_TEXT).join("");
}

/**
 * An operation's result without NUL characters in keys or strings, which PostgreSQL's jsonb cannot
 * hold (results cross replicas through the database). Returns the input itself when it has none.
 */
export function withoutNul<T extends JsonValue>(value: T): T {
  if (typeof value === "string") return (value.includes("\u0000") ? value.replaceAll("\u0000", "") : value) as T;
  if (Array.isArray(value)) return value.map((v) => withoutNul(v)) as T;
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, JsonValue> = {};
  for (const [k, v] of Object.entries(value)) out[k.replaceAll("\u0000", "")] = withoutNul(v as JsonValue);
  return out as T;
}
