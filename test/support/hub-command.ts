import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";

/** A hub started as a command (the bin, or `node dist/cli/main.js serve`), on port 0. */
export interface HubCommand {
  child: ChildProcess;
  port: number;
  /** The h2c agent port when `grpc.agentPort` was set. */
  agentPort: number | undefined;
  /** Every JSON log line so far. */
  readonly logs: Record<string, unknown>[];
  /** Sends `signal` and resolves with the exit code (null when the signal killed it). */
  signal(signal: NodeJS.Signals): Promise<number | null>;
}

/**
 * Spawns `command args` with `env` (PORT=0 and host 127.0.0.1 added) and resolves once it logs
 * "agent-hub listening"; rejects with its stderr if it exits first or takes over `timeoutMs`.
 */
export function startHubCommand(command: string, args: string[], options: { cwd: string; env: Record<string, string>; timeoutMs?: number }): Promise<HubCommand> {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? "", PORT: "0", AGENT_HUB_HOST: "127.0.0.1", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${command} ${args.join(" ")} did not listen within ${options.timeoutMs ?? 60_000} ms: ${stderr}`));
    }, options.timeoutMs ?? 60_000);
    void exit.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${command} ${args.join(" ")} exited ${code} before listening: ${stderr}`));
    });
    createInterface({ input: child.stdout! }).on("line", (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      logs.push(entry);
      if (entry.msg !== "agent-hub listening") return;
      clearTimeout(timer);
      resolve({
        child,
        port: Number(entry.port),
        agentPort: entry.agentPort === undefined ? undefined : Number(entry.agentPort),
        logs,
        signal(signal) {
          child.kill(signal);
          return exit;
        },
      });
    });
  });
}
