import { pino, type Logger } from "pino";

export type { Logger } from "pino";

/**
 * Paths pino replaces with "<redacted>" wherever a log call passes account definitions by mistake;
 * the code never logs definitions on purpose.
 */
const REDACT = [
  "*.kubeconfigContents",
  "*.*.kubeconfigContents",
  "*.token",
  "*.password",
  "*.secret",
  "definition",
  "*.definition",
  "config",
  "*.config",
];

/** Structured JSON logs on stdout (or into `destination` for tests). */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options = { level, base: { service: "agent-hub" }, redact: { paths: REDACT, censor: "<redacted>" } };
  return destination === undefined ? pino(options) : pino(options, destination);
}
