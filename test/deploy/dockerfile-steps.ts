import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { basename, join, posix } from "node:path";

/** One stage of a Dockerfile as it was run here: its root directory stands for the image's "/". */
export interface Stage {
  name: string;
  image: string;
  root: string;
  workdir: string;
  env: Record<string, string>;
  user: string | undefined;
  cmd: string[] | undefined;
  healthcheck: { options: Record<string, string>; cmd: string[] } | undefined;
  exposed: number[];
  /** A path of the image as a path on this machine. */
  path(p: string): string;
}

/** Instructions, with continuation lines joined and comments dropped. */
export function instructions(text: string): { op: string; args: string }[] {
  const out: { op: string; args: string }[] = [];
  let pending = "";
  for (const raw of text.split("\n")) {
    if (pending === "" && /^\s*(#|$)/.test(raw)) continue;
    const line = raw.trimEnd();
    if (line.endsWith("\\")) {
      pending += line.slice(0, -1) + " ";
      continue;
    }
    const full = (pending + line).trim();
    pending = "";
    const m = full.match(/^(\S+)\s+(.*)$/);
    if (m === null) throw new Error(`Dockerfile: cannot read ${full}`);
    out.push({ op: m[1]!.toUpperCase(), args: m[2]! });
  }
  return out;
}

/** Exec form (a JSON array) or shell form (run by sh -c). */
function command(args: string): string[] {
  return args.startsWith("[") ? (JSON.parse(args) as string[]) : ["sh", "-c", args];
}

/**
 * Runs a Dockerfile's steps without Docker: each stage in a directory of its own under `workspace`
 * (the stage's "/"), COPY from `context` or from an earlier stage, RUN with sh in the stage's
 * WORKDIR and with its ENV (on top of PATH and HOME, so npm finds its cache). FROM's image is not
 * pulled: this machine's Node stands in for it, so the test checks the steps, not the base image.
 * Only the instructions the Dockerfile uses are known; any other is an error.
 */
export function runDockerfile(file: string, context: string, workspace: string, extraEnv: Record<string, string> = {}): Stage[] {
  const stages: Stage[] = [];
  const current = () => {
    const s = stages[stages.length - 1];
    if (s === undefined) throw new Error("Dockerfile: an instruction before FROM");
    return s;
  };
  for (const { op, args } of instructions(readFileSync(file, "utf8"))) {
    switch (op) {
      case "FROM": {
        const [image, as, name] = args.split(/\s+/);
        const root = join(workspace, `stage-${stages.length}`);
        mkdirSync(root, { recursive: true });
        const stage: Stage = {
          name: as?.toUpperCase() === "AS" ? name! : String(stages.length),
          image: image!,
          root,
          workdir: "/",
          env: {},
          user: undefined,
          cmd: undefined,
          healthcheck: undefined,
          exposed: [],
          path: (p) => join(root, posix.resolve(stage.workdir, p)),
        };
        stages.push(stage);
        break;
      }
      case "WORKDIR": {
        const s = current();
        s.workdir = posix.resolve(s.workdir, args);
        mkdirSync(s.path("."), { recursive: true });
        break;
      }
      case "ENV": {
        const m = args.match(/^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/);
        if (m === null) throw new Error(`Dockerfile: ENV ${args} (only KEY=value is supported here)`);
        current().env[m[1]!] = m[2]!;
        break;
      }
      case "COPY": {
        const s = current();
        const parts = args.split(/\s+/);
        const from = parts[0]!.startsWith("--from=") ? parts.shift()!.slice("--from=".length) : undefined;
        const dest = parts.pop()!;
        const source = from === undefined ? undefined : stages.find((x) => x.name === from);
        if (from !== undefined && source === undefined) throw new Error(`Dockerfile: COPY --from=${from}: no such stage`);
        for (const src of parts) {
          const origin = source === undefined ? join(context, src) : source.path(src);
          const intoDir = dest.endsWith("/") || parts.length > 1;
          const target = intoDir ? join(s.path(dest), basename(src)) : s.path(dest);
          if (statSync(origin).isDirectory() && !intoDir) mkdirSync(target, { recursive: true });
          cpSync(origin, target, { recursive: true });
        }
        break;
      }
      case "RUN": {
        const s = current();
        const [cmd, ...rest] = command(args);
        execFileSync(cmd!, rest, {
          cwd: s.path("."),
          env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...s.env, ...extraEnv },
          stdio: ["ignore", "pipe", "pipe"],
        });
        break;
      }
      case "USER":
        current().user = args.trim();
        break;
      case "EXPOSE":
        current().exposed.push(...args.split(/\s+/).map((p) => Number(p.split("/")[0])));
        break;
      case "CMD":
        current().cmd = command(args);
        break;
      case "HEALTHCHECK": {
        const m = args.match(/^((?:--\S+\s+)*)CMD\s+(.*)$/);
        if (m === null) throw new Error(`Dockerfile: HEALTHCHECK ${args}`);
        const options = Object.fromEntries([...m[1]!.matchAll(/--([a-z-]+)=(\S+)/g)].map((o) => [o[1]!, o[2]!]));
        current().healthcheck = { options, cmd: command(m[2]!) };
        break;
      }
      default:
        throw new Error(`Dockerfile: ${op} is not supported by this test's runner`);
    }
  }
  return stages;
}
