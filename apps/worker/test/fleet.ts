// Test fixture for the worker fleet: sweeps inserted with Prisma and enqueued with packages/queue,
// worker processes running the compiled apps/worker/dist/main.js (real Redis, real Postgres), the
// sweeper running here as the API process runs it (expired leases, queued trials without jobs), and
// polling helpers.
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createDb, type Db } from "@powersweep/db";
import { startReconciler } from "@powersweep/orchestrator";
import { createRedis, createTrialQueue, enqueueTrials, type TrialQueue } from "@powersweep/queue";
import type { TrialConfig } from "@powersweep/spec";
import type { Redis } from "ioredis";
import { freshDatabaseUrl, testConfig, uniquePrefix } from "../../../test/env.ts";

const ROOT = resolve(import.meta.dirname, "../../..");

/** A tiny real training config (tfjs: d16, 1 layer, seq 16, batch 4). */
export function tinyConfig(seed: number, tokens = 2048, lr = 1e-2): TrialConfig {
  return {
    model: { name: "d16-L1", dModel: 16, nLayers: 1, nHeads: 2, dHead: 8, mlpHidden: 32, baseWidth: 16 },
    mup: { embMultiplier: 1, residualMultiplier: 1, initStd: 0.05 },
    schedule: { type: "constant", lr, warmupTokens: 0 },
    tokens,
    batchSize: 4,
    seqLen: 16,
    corpus: { type: "sotu" },
    tokenizer: { type: "byte" },
    optimizer: { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 },
    evalTokens: 256,
    seed,
  } as TrialConfig;
}

export interface Fleet {
  db: Db;
  databaseUrl: string;
  redis: Redis;
  queue: TrialQueue;
  prefix: string;
  checkpointDir: string;
  workers: WorkerProc[];
  spawnWorker(args?: string[], env?: NodeJS.ProcessEnv): Promise<WorkerProc>;
  createSweep(
    configs: TrialConfig[],
    opts?: { trainer?: string; maxAttempts?: number; enqueue?: boolean; spec?: Record<string, unknown> },
  ): Promise<{ sweepId: string; trialIds: string[] }>;
  close(): Promise<void>;
}

export interface WorkerProc {
  proc: ChildProcess;
  id: string;
  output: () => string;
  exited: Promise<number | null>;
}

/**
 * Trial lease of the fleet's workers (seconds): a SIGKILLed worker's trial runs again after about
 * this long. Twelve heartbeats (500 ms) long, so a loaded machine's late beat does not lose a lease.
 */
export const FLEET_LEASE_SECONDS = 6;

export async function startFleet(
  label: string,
  baseEnv: NodeJS.ProcessEnv = {},
  { sweeper: withSweeper = true }: { sweeper?: boolean } = {},
): Promise<Fleet> {
  // Each fleet gets its own database: reconcile() re-enqueues every queued trial of its database.
  const config = testConfig({ databaseUrl: await freshDatabaseUrl(label) });
  const prefix = uniquePrefix(label);
  // A caller's DATABASE_URL (e.g. through a proxy) keeps its host but points at this fleet's database.
  if (baseEnv.DATABASE_URL) {
    const url = new URL(baseEnv.DATABASE_URL);
    url.pathname = new URL(config.databaseUrl).pathname;
    baseEnv = { ...baseEnv, DATABASE_URL: url.toString() };
  }
  const db = createDb({ url: config.databaseUrl, max: 4 });
  const redis = createRedis({ url: config.redisUrl });
  const queue = createTrialQueue(redis, prefix);
  const checkpointDir = await mkdtemp(join(tmpdir(), `ps-worker-${label}-`));
  const workers: WorkerProc[] = [];
  const sweeper = withSweeper ? startReconciler(db, queue, { intervalMs: 500 }) : null;

  async function spawnWorker(
    args: string[] = ["--concurrency", "1"],
    env: NodeJS.ProcessEnv = {},
  ): Promise<WorkerProc> {
    const proc = spawn(process.execPath, [join(ROOT, "apps/worker/dist/main.js"), ...args], {
      cwd: ROOT,
      env: {
        ...process.env,
        DATABASE_URL: config.databaseUrl,
        REDIS_PREFIX: prefix,
        CHECKPOINT_DIR: checkpointDir,
        WORKER_LOCK_MS: "2000",
        WORKER_STALLED_MS: "1000",
        WORKER_HEARTBEAT_MS: "500",
        WORKER_SHUTDOWN_MS: "10000",
        WORKER_PROGRESS_MS: "200",
        TRIAL_LEASE_SECONDS: String(FLEET_LEASE_SECONDS),
        ...baseEnv,
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    proc.stdout?.on("data", (d) => {
      out += d;
    });
    proc.stderr?.on("data", (d) => {
      out += d;
    });
    const exited = new Promise<number | null>((r) => proc.on("exit", (code) => r(code)));
    const id = await new Promise<string>((res, rej) => {
      const t = setTimeout(() => rej(new Error(`worker did not start:\n${out}`)), 90_000);
      const check = () => {
        const m = /"ready":true,"workerId":"([^"]+)"/.exec(out);
        if (m?.[1]) {
          clearTimeout(t);
          res(m[1]);
        }
      };
      proc.stdout?.on("data", check);
      proc.on("exit", () => {
        clearTimeout(t);
        rej(new Error(`worker exited at start:\n${out}`));
      });
    });
    const w = { proc, id, output: () => out, exited };
    workers.push(w);
    return w;
  }

  async function createSweep(
    configs: TrialConfig[],
    { trainer = "sleep", maxAttempts = 3, enqueue = true, spec = {} as Record<string, unknown> } = {},
  ) {
    // `creating` until its trials are written, as an accept does: the sweeper would otherwise settle
    // a sweep without trials as completed.
    const sweep = await db.sweep.create({
      data: {
        name: `${label}-sweep`,
        kind: "lr_grid",
        spec: spec as object,
        trainer,
        maxAttempts,
        trialCount: configs.length,
        status: "creating",
      },
    });
    const trialIds: string[] = [];
    for (const c of configs) {
      const t = await db.trial.create({
        data: {
          id: randomUUID(),
          sweepId: sweep.id,
          key: createHash("sha256").update(JSON.stringify(c)).digest("hex"),
          config: c as object,
          model: c.model.name,
          dModel: c.model.dModel,
          tokens: c.tokens,
          batchSize: c.batchSize,
          seed: c.seed,
        },
      });
      trialIds.push(t.id);
    }
    await db.sweep.update({ where: { id: sweep.id }, data: { status: "queued" } });
    if (enqueue)
      await enqueueTrials(
        queue,
        trialIds.map((id) => ({ id, sweepId: sweep.id })),
      );
    return { sweepId: sweep.id, trialIds };
  }

  return {
    db,
    databaseUrl: config.databaseUrl,
    redis,
    queue,
    prefix,
    checkpointDir,
    workers,
    spawnWorker,
    createSweep,
    async close() {
      await sweeper?.stop();
      for (const w of workers) if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill("SIGKILL");
      await Promise.all(workers.map((w) => w.exited));
      await queue.close();
      redis.disconnect();
      await db.$disconnect();
    },
  };
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | null | undefined | false>,
  timeoutMs = 45_000,
  everyMs = 100,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function sweepDone(db: Db, sweepId: string, timeoutMs = 45_000) {
  return waitFor(
    `sweep ${sweepId} completed`,
    async () => {
      const s = await db.sweep.findUnique({ where: { id: sweepId } });
      return s?.status === "completed" ? s : null;
    },
    timeoutMs,
    200,
  );
}

/** Deletes every Redis key of this fleet (its prefix only), as a flush or a lost Redis would. */
export async function emptyRedis(f: Pick<Fleet, "redis" | "prefix">): Promise<number> {
  let cursor = "0";
  let n = 0;
  do {
    const [next, keys] = await f.redis.scan(cursor, "MATCH", `${f.prefix}:*`, "COUNT", 1000);
    cursor = next;
    if (keys.length) n += await f.redis.del(...keys);
  } while (cursor !== "0");
  return n;
}
