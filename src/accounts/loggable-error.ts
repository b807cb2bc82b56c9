/**
 * What may be logged of an unexpected error. drizzle's query errors carry the statement's
 * parameters — account definitions with inline secrets — in their message, so only the
 * database's own message and SQLSTATE are kept.
 */
export function loggableError(err: unknown): { name: string; message: string; code?: string } {
  const error = err instanceof Error ? err : new Error(String(err));
  const cause = error.cause instanceof Error ? error.cause : undefined;
  const code = (cause as { code?: unknown } | undefined)?.code;
  return {
    name: error.name,
    message: cause?.message ?? (error.name === "DrizzleQueryError" ? "query failed" : error.message),
    ...(typeof code === "string" ? { code } : {}),
  };
}
