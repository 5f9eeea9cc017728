// Worker-fleet orchestration overhead, with the benchmark-only "sleep" trainer at 0 ms per trial.
//   ours:  one worker process (this one) with 4 in-process slots, the same shape
//          `powersweep worker --concurrency 4` runs (one BullMQ Worker, concurrency 4 slots + 4
//          prefetch; never more than 4 trainers at once). Every trial goes through the full hot
//          path: markRunning (1 prepared UPDATE … RETURNING, asynchronous commit), trainer,
//          recordResult (group-committed, durable), BullMQ acknowledgement after the commit,
//          completeSweepIfDone (skipped while the sweep is busy), throttled requestFit.
//   raw:   a BullMQ Worker with concurrency 4 (the reference) and 8 (the same job concurrency as
//          ours) and an empty processor, on the same number of jobs, in the same run (the
//          ceiling: Redis round trips only).
//   workerCpuMsPerTrial: CPU of this process (worker + harness) per trial, less sensitive to other
//          load on the machine than the rates.
// BENCH_WORKER_TRIALS (default 4000) and BENCH_WORKER_PREFETCH (default: the worker's, one per
// slot; 0 = no overlap) change the run for comparisons.
//   latency: queue-to-start, measured separately with idle workers: trials enqueued one by one,
//          latency = Trial.startedAt − the moment the job was added.
// It uses its own throwaway database and Redis prefix (created and dropped here).
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDb } from "@powersweep/db";
import { createRedis, createTrialQueue, enqueueTrials, QUEUE_TRIALS } from "@powersweep/queue";
import { DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL, migrate } from "@powersweep/runtime";
import { Worker } from "bullmq";
import pg from "pg";
import { startWorker } from "../apps/worker/src/index.ts";

const TRIALS = Number(process.env.BENCH_WORKER_TRIALS ?? 4000);
const LATENCY_SAMPLES = 200;
const SLOTS = 4;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.floor((s.length - 1) / 2)] as number) : Number.NaN;
};

const CONFIG = {
  model: { name: "sleep", dModel: 16, nLayers: 1, nHeads: 1, dHead: 16, mlpHidden: 32, baseWidth: 16 },
  tokens: 1e6,
  batchSize: 4,
  seqLen: 16,
};

async function insertSweep(db: ReturnType<typeof createDb>, n: number, tag: string) {
  const sweep = await db.sweep.create({
    data: { name: `bench-${tag}`, kind: "lr_grid", spec: {}, trainer: "sleep", trialCount: n },
  });
  const rows = await db.$queryRawUnsafe<Array<{ id: string }>>(
    `INSERT INTO "Trial" (id, "sweepId", key, config, model, tokens, "batchSize", "updatedAt")
     SELECT gen_random_uuid(), $1::uuid, $3 || i::text, $2::jsonb, 'sleep', 1e6, 4, now() FROM generate_series(1, $4::int) i
     RETURNING id::text AS id`,
    sweep.id,
    JSON.stringify(CONFIG),
    tag,
    n,
  );
  return { sweepId: sweep.id, ids: rows.map((r) => r.id) };
}

export async function run(): Promise<Record<string, unknown>> {
  process.env.POWERSWEEP_SLEEP_MS_PER_TOKEN = "0";
  const base = new URL(process.env.DATABASE_URL || DEFAULT_DATABASE_URL);
  const admin = new URL(base);
  admin.pathname = "/postgres";
  const dbName = `powersweep_bench_${Date.now().toString(36)}_${randomBytes(2).toString("hex")}`;
  const dbUrl = new URL(base);
  dbUrl.pathname = `/${dbName}`;
  const redisUrl = process.env.REDIS_URL || DEFAULT_REDIS_URL;
  const prefix = `psbench-${dbName}`;
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  await client.query(`CREATE DATABASE ${pg.escapeIdentifier(dbName)}`);
  await client.end();
  const checkpointDir = await mkdtemp(join(tmpdir(), "ps-bench-worker-"));
  const redis = createRedis({ url: redisUrl });
  const db = createDb({ url: dbUrl.toString(), max: 4 });
  // Completion polling through plain pg: Prisma's per-query CPU would compete with the worker.
  const poll = new pg.Pool({ connectionString: dbUrl.toString(), max: 1 });
  const waitCompleted = async (sweepId: string) => {
    for (;;) {
      const { rows } = await poll.query(`SELECT status FROM "Sweep" WHERE id = $1::uuid`, [sweepId]);
      if ((rows[0] as { status?: string } | undefined)?.status === "completed") return;
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  try {
    await migrate(dbUrl.toString());

    // raw BullMQ: empty jobs through one Worker (concurrency 4, then 8)
    const rawRate = async (concurrency: number) => {
      const rawPrefix = `${prefix}-raw${concurrency}`;
      const rawQueue = createTrialQueue(redis, rawPrefix);
      const rawConn = createRedis({ url: redisUrl, forWorker: true });
      let rawDone = 0;
      let rawResolve = () => {};
      const rawFinished = new Promise<void>((r) => {
        rawResolve = r;
      });
      const rawWorker = new Worker(QUEUE_TRIALS, async () => ({}), {
        connection: rawConn,
        prefix: rawPrefix,
        concurrency,
        autorun: false,
      });
      rawWorker.on("completed", () => {
        if (++rawDone === TRIALS) rawResolve();
      });
      await enqueueTrials(
        rawQueue,
        Array.from({ length: TRIALS }, (_, i) => ({ id: `raw-${i}`, sweepId: "raw" })),
      );
      const r0 = performance.now();
      void rawWorker.run();
      await rawFinished;
      const seconds = (performance.now() - r0) / 1000;
      await rawWorker.close();
      await rawQueue.obliterate({ force: true });
      await rawQueue.close();
      rawConn.disconnect();
      return TRIALS / seconds;
    };
    const rawPerSecond = await rawRate(SLOTS);
    const raw8PerSecond = await rawRate(2 * SLOTS);

    // ours: the full worker, 4 slots
    const queue = createTrialQueue(redis, prefix);
    const { sweepId, ids } = await insertSweep(db, TRIALS, "tp");
    await enqueueTrials(
      queue,
      ids.map((id) => ({ id, sweepId })),
    );
    const w0 = performance.now();
    const cpu0 = process.cpuUsage();
    const worker = await startWorker({
      databaseUrl: dbUrl.toString(),
      redisUrl,
      redisPrefix: prefix,
      checkpointDir,
      concurrency: SLOTS,
      ...(process.env.BENCH_WORKER_PREFETCH ? { prefetch: Number(process.env.BENCH_WORKER_PREFETCH) } : {}),
      log: () => {},
    });
    await waitCompleted(sweepId);
    const oursSeconds = (performance.now() - w0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const results = await db.trial.count({ where: { sweepId, status: "succeeded", resultAttempt: 1 } });

    // queue-to-start latency with idle slots: one trial at a time, 10 ms apart
    const lat = await insertSweep(db, LATENCY_SAMPLES, "lat");
    const added = new Map<string, number>();
    for (const id of lat.ids) {
      added.set(id, Date.now());
      await enqueueTrials(queue, [{ id, sweepId: lat.sweepId }]);
      await new Promise((r) => setTimeout(r, 10));
    }
    await waitCompleted(lat.sweepId);
    const started = await db.trial.findMany({ where: { sweepId: lat.sweepId }, select: { id: true, startedAt: true } });
    const latencies = started.map((t) => (t.startedAt as Date).getTime() - (added.get(t.id) as number));
    await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();

    const oursPerSecond = TRIALS / oursSeconds;
    return {
      trials: TRIALS,
      slots: SLOTS,
      setup:
        "one worker process, 4 slots (one BullMQ Worker, concurrency 4 slots + 4 prefetch); sleep trainer at 0 ms; Postgres + Redis local",
      resultsRecorded: results,
      trialsPerSecond: Math.round(oursPerSecond),
      rawBullmqJobsPerSecond: Math.round(rawPerSecond),
      rawBullmqJobsPerSecondConcurrency8: Math.round(raw8PerSecond),
      ratioToRaw: Number((oursPerSecond / rawPerSecond).toFixed(3)),
      workerCpuMsPerTrial: Number(((cpu.user + cpu.system) / 1000 / TRIALS).toFixed(3)),
      medianQueueToStartMs: median(latencies),
      p95QueueToStartMs: [...latencies].sort((a, b) => a - b)[Math.floor(latencies.length * 0.95)],
      targetTrialsPerSecond: 1000,
    };
  } finally {
    await poll.end();
    await db.$disconnect();
    redis.disconnect();
    await rm(checkpointDir, { recursive: true, force: true });
    const c2 = new pg.Client({ connectionString: admin.toString() });
    await c2.connect();
    await c2.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(dbName)} WITH (FORCE)`);
    await c2.end();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  run().then(
    (r) => {
      console.log(JSON.stringify(r, null, 2));
      process.exit(0);
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
