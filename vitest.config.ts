import { availableParallelism } from "node:os";
import { defaultClientConditions, defaultServerConditions } from "vite";
import { configDefaults, defineConfig } from "vitest/config";

/**
 * Tests that need neither Postgres nor Redis (`npm run test:unit`): the pure packages and the pure
 * parts of the apps. Everything else is the integration project, which gets its own database and
 * Redis prefix from test/global-setup.ts.
 */
const UNIT = [
  "packages/{spec,sweep,schedules,model,data,fit,plots,trainer}/test/**/*.test.ts",
  "apps/web/test/views.test.ts",
  "apps/worker/test/{args,slots}.test.ts",
  "test/toolchain.test.ts",
];

export default defineConfig({
  // Workspace packages resolve to their TypeScript sources in tests ("source" in their package.json
  // exports); node itself loads the compiled dist/.
  resolve: { conditions: ["source", ...defaultClientConditions] },
  ssr: { resolve: { conditions: ["source", ...defaultServerConditions] } },
  test: {
    pool: "forks",
    // Vitest's default is one file at a time on 2 cores (cores − 1). Most integration files wait on
    // processes they spawn (workers, the CLI, Chromium, Postgres), so four files overlap those waits;
    // the CPU-bound unit files share the cores. `--maxWorkers=N` overrides it.
    maxWorkers: Math.max(4, availableParallelism()),
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ["default", "./test/skipped-reporter.ts"],
    projects: [
      { extends: true, test: { name: "unit", include: UNIT } },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["packages/*/test/**/*.test.ts", "apps/*/test/**/*.test.ts", "test/**/*.test.ts"],
          exclude: [...configDefaults.exclude, ...UNIT],
          // Builds dist/ (the processes tests spawn run it) and gives the run its own Postgres database
          // and Redis key prefix.
          globalSetup: ["./test/global-setup.ts"],
        },
      },
    ],
  },
});
