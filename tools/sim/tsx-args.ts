/**
 * Node flags that load tsx for a child process running a TypeScript entry. The loader is given
 * by absolute URL because a bare `--import tsx` resolves from the child's working directory.
 */
export function tsxExecArgv(): string[] {
  return ["--import", import.meta.resolve("tsx")];
}
