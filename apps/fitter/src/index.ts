// The fitting service: consumes refit requests (one per finished trial, deduplicated and delayed per
// sweep by packages/queue's requestFit) and stores a Fit for the sweep's current results. Fits of
// different sweeps run concurrently, each in a worker thread, so a large fit neither holds the
// others nor starves the event loop that renews the jobs' locks.

import { createDb } from "@powersweep/db";
import type { FitRow, SweepFit } from "@powersweep/fit";
import { createRedis, type FitJobData, QUEUE_FITS } from "@powersweep/queue";
import { type PowersweepConfig, ThreadPool } from "@powersweep/runtime";
import { Worker } from "bullmq";
import { refitSweep } from "./refit.ts";

export * from "./refit.ts";

export interface FitterHandle {
  close(): Promise<void>;
}

export async function startFitter(config: PowersweepConfig, { log = console.log } = {}): Promise<FitterHandle> {
  const db = createDb({ url: config.databaseUrl, max: 4 });
  const connection = createRedis({ url: config.redisUrl, forWorker: true });
  const concurrency = Math.max(1, config.fitterConcurrency);
  const pool = new ThreadPool<{ rows: FitRow[]; options: Record<string, unknown> }, SweepFit>({
    entry: new URL("./thread.ts", import.meta.url),
    threads: concurrency,
  });
  const fitInThread = (rows: FitRow[], options: Record<string, unknown>) => pool.run({ rows, options });
  const worker = new Worker<FitJobData>(
    QUEUE_FITS,
    async (job) => {
      const started = Date.now();
      const outcome = await refitSweep(db, job.data.sweepId, {}, fitInThread);
      if (outcome && !outcome.reused) {
        log(`fitter: sweep ${job.data.sweepId}: fitted ${outcome.rows} rows in ${Date.now() - started} ms`);
      }
      return outcome;
    },
    { connection, prefix: config.redisPrefix, concurrency },
  );
  worker.on("failed", (job, err) => log(`fitter: fit of sweep ${job?.data.sweepId} failed: ${err.message}`));
  await worker.waitUntilReady();
  return {
    async close() {
      await worker.close();
      await pool.close();
      connection.disconnect();
      await db.$disconnect();
    },
  };
}
