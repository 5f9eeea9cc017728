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
  "apps/cli/test/{documents,format}.test.ts",
  "test/toolchain.test.ts",
];

export default defineConfig({
  // Workspace packages resolve to their TypeScript sources in tests ("source" in their package.json
  // exports); node itself loads the compiled dist/.
  resolve: { conditions: ["source", ...defaultClientConditions] },
  ssr: { resolve: { conditions: ["source", ...defaultServerConditions] } },
  test: {
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ["default", "./test/skipped-reporter.ts"],
    projects: [
      // Vitest's default runs one file at a time on 2 cores (cores − 1). The unit files are CPU-bound:
      // one per core, first. The integration files mostly wait on what they spawn (workers, the CLI,
      // Chromium, Postgres), so more of them than cores overlap those waits.
      {
        extends: true,
        test: { name: "unit", include: UNIT, maxWorkers: availableParallelism(), sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["packages/*/test/**/*.test.ts", "apps/*/test/**/*.test.ts", "test/**/*.test.ts"],
          exclude: [...configDefaults.exclude, ...UNIT],
          // Builds dist/ (the processes tests spawn run it) and gives the run its own Postgres database
          // and Redis key prefix.
          globalSetup: ["./test/global-setup.ts"],
          maxWorkers: Math.max(3, availableParallelism()),
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
