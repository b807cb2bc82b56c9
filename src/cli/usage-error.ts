/** Why a command line cannot be used (exit code 2). */
export class UsageError extends Error {
  override name = "UsageError";
}
