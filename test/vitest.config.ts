import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    root: new URL("..", import.meta.url).pathname,
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Two files at a time, not vitest's default of one per core but one (a single
    // worker on a 2-core machine): most files wait on Postgres, HTTP and timers, not
    // on the CPU. Measured on 2 cores: 10.5 min with one worker, 7.0 min with two.
    maxWorkers: 2,
    // Every suite runs with the database refusing state changes the engine's tables do not allow.
    env: { CLUTCH_LUIGI_CHECK_TRANSITIONS: "on" },
  },
});
