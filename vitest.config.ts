import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    // Two cores on CI: a couple of forks keep ONNX Runtime sessions from fighting for them.
    pool: "forks",
    maxWorkers: 2,
  },
});
