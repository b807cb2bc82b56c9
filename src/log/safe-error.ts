/**
 * The one way errors and log fields are made fit for the log (design section 14, "secrets never
 * leave"). drizzle's query errors carry the statement's parameters — account definitions with
 * inline secrets, letters with full configs, operation payloads — in their `message`, `stack` and
 * `params`; postgres.js keeps them in `parameters`. None of that may reach a log line.
 */

/** What the log shows instead of a secret. */
const LOG_REDACTED = "<redacted>";

/** Field names whose values are secrets, or may carry them, wherever they appear in a log object. */
const SECRET_KEY = /token|password|secret|authorization|kubeconfigcontents|cookie/i;
/** Fields that hold account definitions or payloads: logged as a whole never. */
const BULK_KEYS = new Set(["definition", "agentDefinition", "config", "payload", "body", "result"]);
/** Fields of database errors that hold statement parameters: dropped. */
const PARAMETER_KEYS = new Set(["params", "parameters", "args", "values"]);

function isReference(value: unknown): boolean {
  return typeof value === "string" && (value.startsWith("encrypted:") || value.startsWith("encryptedFile:"));
}

/**
 * Removes statement parameters from a text: drizzle writes `Failed query: <sql>\nparams: <values>`.
 * Everything from `params:` on is cut.
 */
function withoutParameters(text: string): string {
  const at = text.search(/(^|\n)\s*params:/);
  return at < 0 ? text : `${text.slice(0, at)}\nparams: ${LOG_REDACTED}`;
}

/** A serialized error: name, message without parameters, SQLSTATE, stack frames only, cause. */
export interface SafeError {
  type: string;
  message: string;
  code?: string;
  stack?: string;
  cause?: SafeError;
}

function stackFrames(stack: unknown): string | undefined {
  if (typeof stack !== "string") return undefined;
  // The first lines of a stack repeat the message (parameters and all); the frames do not.
  const frames = stack.split("\n").filter((line) => /^\s+at /.test(line));
  return frames.length === 0 ? undefined : frames.join("\n");
}

/**
 * Serializes any thrown value for the log. Only the name, the message (parameters cut), a string
 * `code` (SQLSTATE or Connect code), the stack frames and the cause chain (same rules, 5 deep)
 * are kept: enumerable extras such as `params`, `query`, `detail` or `where` are not.
 */
export function serializeError(err: unknown, depth = 0): SafeError {
  if (!(err instanceof Error)) return { type: typeof err, message: withoutParameters(redactText(String(err))) };
  const code = (err as { code?: unknown }).code;
  const out: SafeError = { type: err.name, message: withoutParameters(err.message) };
  if (typeof code === "string" || typeof code === "number") out.code = String(code);
  const stack = stackFrames(err.stack);
  if (stack !== undefined) out.stack = stack;
  if (err.cause !== undefined && depth < 5) out.cause = serializeError(err.cause, depth + 1);
  return out;
}

/** A bearer token in free text (e.g. a header value echoed in a message) is replaced. */
function redactText(text: string): string {
  return text.replace(/(bearer\s+)[^\s"',;]+/gi, `$1${LOG_REDACTED}`);
}

/**
 * A copy of a log object fit to be written: errors serialized by `serializeError` wherever they
 * are, secret-named fields and definitions replaced by "<redacted>" (secret references kept),
 * parameter lists dropped, parameter tails cut from strings. Walks 8 levels deep.
 */
export function sanitizeLogValue(value: unknown, depth = 0): unknown {
  if (value instanceof Error) return serializeError(value);
  if (typeof value === "string") return withoutParameters(redactText(value));
  if (value === null || typeof value !== "object") return value;
  if (depth >= 8) return "[too deep]";
  if (Array.isArray(value)) return value.map((v) => sanitizeLogValue(v, depth + 1));
  if (value instanceof Date) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (PARAMETER_KEYS.has(key)) continue;
    if ((SECRET_KEY.test(key) || BULK_KEYS.has(key)) && !isReference(v)) out[key] = LOG_REDACTED;
    else out[key] = sanitizeLogValue(v, depth + 1);
  }
  return out;
}

/** Sanitizes a log message text the same way. */
export function sanitizeLogMessage(text: string): string {
  return withoutParameters(redactText(text));
}
