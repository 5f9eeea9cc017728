// What a test needs to reach this run's isolated services (set up by test/global-setup.ts).
import { loadConfig, type PowersweepConfig } from "@powersweep/runtime";

export function testConfig(overrides: Partial<PowersweepConfig> = {}): PowersweepConfig {
  if (!process.env.REDIS_PREFIX?.startsWith("pstest-")) {
    throw new Error("test/global-setup.ts did not run: use `npm test` (vitest with the root config)");
  }
  return { ...loadConfig(), ...overrides };
}

/** A prefix unique to one test file or case, inside this run's prefix. */
export function uniquePrefix(label: string): string {
  return `${process.env.REDIS_PREFIX}-${label}-${Math.random().toString(36).slice(2, 8)}`;
}
