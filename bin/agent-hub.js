#!/usr/bin/env node
// The agent-hub command. It runs the CLI in this very process, so that signals (Kubernetes'
// SIGTERM, Ctrl-C) reach the hub itself and its exit code is the command's: from a checkout the
// TypeScript sources through tsx's loader, elsewhere (the container image, which has no src/)
// the compiled build of `npm run build`.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const sources = join(root, "src/cli/main.ts");
const compiled = join(root, "dist/cli/main.js");

if (existsSync(sources)) {
  const { register } = await import("tsx/esm/api");
  register();
  await import(pathToFileURL(sources).href);
} else if (existsSync(compiled)) {
  await import(pathToFileURL(compiled).href);
} else {
  process.stderr.write(`agent-hub: neither ${sources} nor ${compiled} exists; run npm run build\n`);
  process.exit(1);
}
