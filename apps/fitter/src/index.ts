// The fitting service: consumes refit requests (one per finished trial, deduplicated and delayed per
// sweep by packages/queue's requestFit) and stores a Fit for the sweep's current results. Fits of
// different sweeps run concurrently, each in a worker thread, so a large fit neither holds the
// others nor starves the event loop that renews the jobs' locks. After the fit of a sweep whose lr
// axis is searched, its search step adds the next learning rates (or completes the sweep).

import { createDb } from "@powersweep/db";
import type { FitRow, SweepFit } from "@powersweep/fit";
import { runSearchStep } from "@powersweep/orchestrator";
import { createRedis, createTrialQueue, type FitJobData, QUEUE_FITS } from "@powersweep/queue";
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
  // Search steps (adaptive η, packages/orchestrator search.ts) enqueue the trials they add.
  const queueRedis = createRedis({ url: config.redisUrl });
  const trialQueue = createTrialQueue(queueRedis, config.redisPrefix);
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
      let outcome: Awaited<ReturnType<typeof refitSweep>>;
      try {
        outcome = await refitSweep(db, job.data.sweepId, {}, fitInThread);
      } catch (err) {
        // A failed fit must not stall a searched sweep: its search step runs without the fit.
        await runSearchStep({ db, trialQueue }, job.data.sweepId, null).catch(() => {});
        throw err;
      }
      if (outcome && !outcome.reused) {
        log(`fitter: sweep ${job.data.sweepId}: fitted ${outcome.rows} rows in ${Date.now() - started} ms`);
      }
      if (!outcome) return outcome;
      // A searched sweep's next learning rates, informed by this fit (its noise and γ law).
      const stored = await db.fit.findUnique({ where: { id: outcome.fitId }, select: { result: true } });
      const search = await runSearchStep(
        { db, trialQueue },
        job.data.sweepId,
        (stored?.result as unknown as SweepFit | undefined) ?? null,
      );
      if (search && (search.added || search.completed))
        log(
          `fitter: sweep ${job.data.sweepId}: η search ${search.completed ? "done, sweep completed" : `added ${search.added} trials`}`,
        );
      return { ...outcome, ...(search ? { searchAdded: search.added, searchDone: search.done } : {}) };
    },
    { connection, prefix: config.redisPrefix, concurrency },
  );
  worker.on("failed", (job, err) => log(`fitter: fit of sweep ${job?.data.sweepId} failed: ${err.message}`));
  await worker.waitUntilReady();
  return {
    async close() {
      await worker.close();
      await pool.close();
      await trialQueue.close();
      queueRedis.disconnect();
      connection.disconnect();
      await db.$disconnect();
    },
  };
}
