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

/**
 * A new, migrated database of its own (a clone of this run's template), for a test file that starts
 * a whole stack: the API's reconciler re-enqueues every queued trial of its database, which must not
 * include other test files' trials. Dropped with the run's database at teardown.
 */
export async function freshDatabaseUrl(label: string): Promise<string> {
  const pg = (await import("pg")).default;
  const template = process.env.TEST_TEMPLATE_DATABASE;
  if (!template) throw new Error("test/global-setup.ts did not run: use `npm test`");
  const base = template.replace(/_tpl$/, "");
  const name = `${base}_${label.replace(/[^a-z0-9]/gi, "").toLowerCase()}_${Math.random().toString(36).slice(2, 7)}`;
  const admin = new pg.Client({ connectionString: process.env.TEST_ADMIN_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)} TEMPLATE ${pg.escapeIdentifier(template)}`);
  } finally {
    await admin.end();
  }
  const url = new URL(process.env.DATABASE_URL!);
  url.pathname = `/${name}`;
  return url.toString();
}
