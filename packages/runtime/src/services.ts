// Reachability checks for Postgres and Redis that end in one clear line, never a stack trace.
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
// pg and ioredis are loaded when a check runs, not with the module: every CLI command imports this
// package, and loading both took longer than the whole of `powersweep --help`.
import type pg from "pg";

export class ServiceUnavailableError extends Error {
  override name = "ServiceUnavailableError";
}

const START_HINT = {
  postgres:
    "start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` or `docker compose up -d postgres`, or set DATABASE_URL",
  redis:
    'start it with `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no` or `docker compose up -d redis`, or set REDIS_URL',
};

function where(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || (u.protocol.startsWith("redis") ? 6379 : 5432)}${u.pathname.length > 1 ? u.pathname : ""}`;
  } catch {
    return url;
  }
}

function reason(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e.code ?? e.message ?? String(err);
}

function pgFields(url: string, database?: string): pg.ClientConfig {
  if (!database) return { connectionString: url, connectionTimeoutMillis: 3000 };
  const u = new URL(url);
  u.pathname = `/${database}`;
  return { connectionString: u.toString(), connectionTimeoutMillis: 3000 };
}

/** Connects once; creates the database when the server answers but the database does not exist yet. */
export async function ensurePostgres(url: string, { create = true } = {}): Promise<void> {
  const { default: pg } = await import("pg");
  const client = new pg.Client(pgFields(url));
  try {
    await client.connect();
    await client.query("select 1");
    return;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "3D000" && create) {
      // invalid_catalog_name: the server is up, our database is not there yet.
      const database = decodeURIComponent(new URL(url).pathname.slice(1));
      const admin = new pg.Client(pgFields(url, "postgres"));
      try {
        await admin.connect();
        await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
        return;
      } catch (createErr) {
        throw new ServiceUnavailableError(
          `Postgres at ${where(url)}: database is missing and could not be created (${reason(createErr)})`,
        );
      } finally {
        await admin.end().catch(() => {});
      }
    }
    throw new ServiceUnavailableError(
      `Postgres is not reachable at ${where(url)} (${reason(err)}): ${START_HINT.postgres}`,
    );
  } finally {
    await client.end().catch(() => {});
  }
}

export async function ensureRedis(url: string): Promise<void> {
  const { Redis } = await import("ioredis");
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 3000,
  });
  redis.on("error", () => {});
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw new ServiceUnavailableError(`Redis is not reachable at ${where(url)} (${reason(err)}): ${START_HINT.redis}`);
  } finally {
    redis.disconnect();
  }
}

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

/** Applies prisma/migrations with the offline Prisma CLI (scripts/prisma.mjs). */
export async function migrate(url: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, "scripts", "prisma.mjs"), "migrate", "deploy"], {
      cwd: repoRoot,
      env: { ...process.env, DATABASE_URL: url },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0
        ? resolve()
        : reject(new ServiceUnavailableError(`Migrations failed on ${where(url)}:\n${output.trim()}`)),
    );
  });
}
