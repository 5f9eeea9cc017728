// Setup of the integration tests (vitest.config.ts):
// - builds dist/ (`tsc -b tsconfig.build.json`, a few seconds when nothing changed): the CLI and
//   worker processes that tests spawn run the compiled JavaScript, as in production;
// - gives the run its own Postgres database and Redis key prefix, migrated from prisma/migrations,
//   on the servers DATABASE_URL and REDIS_URL name (README's defaults when unset), and removes both
//   afterwards (KEEP_TEST_DB=1 keeps the database). Test files and the processes they spawn read them
//   from DATABASE_URL / REDIS_URL / REDIS_PREFIX; test/env.ts reads the two variables below that only
//   this file sets (the migrated template and the admin connection).
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL, ensurePostgres, ensureRedis, migrate } from "@powersweep/runtime";
import { Redis } from "ioredis";
import pg from "pg";

const root = join(import.meta.dirname, "..");

function buildDist(): void {
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  const res = spawnSync(process.execPath, [tsc, "-b", "tsconfig.build.json"], { cwd: root, encoding: "utf8" });
  // Type errors still emit JavaScript; `npm run typecheck` is where they fail.
  if (res.status !== 0) console.warn(`tsc -b tsconfig.build.json reported errors:\n${res.stdout}${res.stderr}`);
}

export default async function setup() {
  buildDist();
  const id = `${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
  const base = new URL(process.env.DATABASE_URL || DEFAULT_DATABASE_URL);
  const adminUrl = new URL(base);
  adminUrl.pathname = "/postgres";
  const dbName = `powersweep_test_${id}`;
  const dbUrl = new URL(base);
  dbUrl.pathname = `/${dbName}`;
  const redisUrl = process.env.REDIS_URL || DEFAULT_REDIS_URL;
  const prefix = `pstest-${id}`;

  await ensurePostgres(adminUrl.toString(), { create: false });
  await ensureRedis(redisUrl);
  const admin = new pg.Client({ connectionString: adminUrl.toString() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(dbName)}`);
  await migrate(dbUrl.toString());
  // A migrated template nobody connects to: test files that start a whole stack (whose reconciler
  // scans every sweep in its database) clone it with freshDatabaseUrl() in test/env.ts.
  await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(`${dbName}_tpl`)} TEMPLATE ${pg.escapeIdentifier(dbName)}`);
  await admin.end();

  process.env.DATABASE_URL = dbUrl.toString();
  process.env.TEST_TEMPLATE_DATABASE = `${dbName}_tpl`;
  process.env.TEST_ADMIN_DATABASE_URL = adminUrl.toString();
  process.env.REDIS_URL = redisUrl;
  process.env.REDIS_PREFIX = prefix;

  return async () => {
    const redis = new Redis(redisUrl);
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== "0");
    redis.disconnect();
    if (process.env.KEEP_TEST_DB) return;
    const admin2 = new pg.Client({ connectionString: adminUrl.toString() });
    await admin2.connect();
    // This run's database, its template, and every clone made from it.
    const { rows } = await admin2.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE $1", [
      `${dbName}%`,
    ]);
    for (const { datname } of rows)
      await admin2.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(datname)} WITH (FORCE)`);
    await admin2.end();
  };
}
