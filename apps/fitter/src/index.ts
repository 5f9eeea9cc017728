// The fitting service: consumes refit requests (one per finished trial, deduplicated and delayed per
// sweep by packages/queue's requestFit) and stores a Fit for the sweep's current results.

import { createDb } from "@powersweep/db";
import { createRedis, type FitJobData, QUEUE_FITS } from "@powersweep/queue";
import type { PowersweepConfig } from "@powersweep/runtime";
import { Worker } from "bullmq";
import { refitSweep } from "./refit.ts";

export * from "./refit.ts";

export interface FitterHandle {
  close(): Promise<void>;
}

export async function startFitter(config: PowersweepConfig, { log = console.log } = {}): Promise<FitterHandle> {
  const db = createDb({ url: config.databaseUrl, max: 4 });
  const connection = createRedis({ url: config.redisUrl, forWorker: true });
  const worker = new Worker<FitJobData>(
    QUEUE_FITS,
    async (job) => {
      const started = Date.now();
      const outcome = await refitSweep(db, job.data.sweepId);
      if (outcome && !outcome.reused) {
        log(`fitter: sweep ${job.data.sweepId}: fitted ${outcome.rows} rows in ${Date.now() - started} ms`);
      }
      return outcome;
    },
    { connection, prefix: config.redisPrefix, concurrency: 1 },
  );
  worker.on("failed", (job, err) => log(`fitter: fit of sweep ${job?.data.sweepId} failed: ${err.message}`));
  await worker.waitUntilReady();
  return {
    async close() {
      await worker.close();
      connection.disconnect();
      await db.$disconnect();
    },
  };
}
