// Completes `npm run build` after tsc: copies what tsc does not emit (the SQL migrations) and
// writes dist/cli/main.js, the production entry point. tsc keeps the repository's layout under
// dist/ (dist/src, dist/gen) because src/ imports gen/ by relative path. Node built-ins only.
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");

cpSync(join(root, "src/store/migrations"), join(dist, "src/store/migrations"), { recursive: true });
mkdirSync(join(dist, "cli"), { recursive: true });
writeFileSync(
  join(dist, "cli/main.js"),
  "// The compiled agent-hub CLI (`node dist/cli/main.js serve`); tsc emits it to dist/src/cli/main.js.\nimport \"../src/cli/main.js\";\n",
);
