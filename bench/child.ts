import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { tsxExecArgv } from "../tools/sim/tsx-args.js";

/** A TypeScript entry running in a process of its own, and its first JSON line on stdout. */
export interface JsonChild<T> {
  process: ChildProcess;
  /** The first stdout line, parsed; rejects if the process exits first. */
  firstLine: Promise<T>;
  kill(): Promise<void>;
}

/** Starts `entry` (relative to bench/) under tsx with `args`. */
export function startJsonChild<T>(entry: string, args: string[], env: NodeJS.ProcessEnv = {}): JsonChild<T> {
  const path = fileURLToPath(new URL(entry, import.meta.url));
  const child = spawn(process.execPath, [...tsxExecArgv(), path, ...args], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, ...env } });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const firstLine = new Promise<T>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once("line", (line) => {
      try {
        resolve(JSON.parse(line) as T);
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
    child.once("exit", (code) => reject(new Error(`${entry} exited with code ${code} before answering`)));
  });
  return {
    process: child,
    firstLine,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}
