import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Most test time is spent waiting on hubs, agents and databases, not on the CPU: two workers
    // even on two cores (vitest's default there is one), each reusing its loaded modules across
    // files (no file relies on a fresh module graph; hubs and databases are made per file).
    maxWorkers: Math.max(2, availableParallelism()),
    isolate: false,
  },
});
