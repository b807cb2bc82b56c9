// Runs `npm ci` when node_modules is missing or older than package-lock.json, so that
// `npm start` and `npm test` work on their own on a fresh clone. Node built-ins only.
import { execSync } from "node:child_process";
import { statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

function mtime(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

const lock = mtime(join(root, "package-lock.json"));
// npm ci writes node_modules/.package-lock.json last, so its time says when the install finished.
const installed = mtime(join(root, "node_modules", ".package-lock.json"));
if (installed === undefined || (lock !== undefined && installed < lock)) {
  console.error("agent-hub: installing dependencies (npm ci)…");
  execSync("npm ci --no-audit --no-fund", { cwd: root, stdio: "inherit" });
}
