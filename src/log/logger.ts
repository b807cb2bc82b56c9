import { pino, type Logger } from "pino";
import { sanitizeLogMessage, sanitizeLogValue, serializeError } from "./safe-error.js";

export type { Logger } from "pino";

/**
 * Structured JSON logs on stdout (or into `destination` for tests). Every line, at every level,
 * passes one sanitizer (src/log/safe-error.ts): errors anywhere in the object are serialized
 * without statement parameters, secret-named fields and definitions are redacted, and the
 * message text loses parameter tails and bearer tokens.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: "agent-hub" },
    // formatters.log has already serialized errors by the time serializers run; either way, one rule.
    serializers: { err: (value: unknown) => (value instanceof Error ? serializeError(value) : sanitizeLogValue(value)) },
    formatters: { log: (object) => sanitizeLogValue(object) as Record<string, unknown> },
    hooks: {
      logMethod(args, method) {
        // `logger.error(err)` would otherwise log the error's raw message as the line's text.
        const [first, ...rest] = args as unknown[];
        const texts = (first instanceof Error ? [{ err: first }, ...(rest.length === 0 ? [first.message] : rest)] : [first, ...rest]).map((a) =>
          typeof a === "string" ? sanitizeLogMessage(a) : a,
        );
        method.apply(this, texts as Parameters<typeof method>);
      },
    },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
