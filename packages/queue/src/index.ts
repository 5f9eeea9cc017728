// One definition of every queue contract: names, job payloads, connections, key prefix and the
// enqueue operations. Apps wire these to BullMQ; nothing else names a queue.
import { type JobsOptions, Queue, type QueueOptions } from "bullmq";
import { Redis, type RedisOptions } from "ioredis";

export const QUEUE_TRIALS = "trials";
export const QUEUE_FITS = "fits";

/** A trial job. The BullMQ job id is the trial id, so enqueueing twice is a no-op. */
export interface TrialJobData {
  trialId: string;
  sweepId: string;
}

/** A refit request, deduplicated per sweep. */
export interface FitJobData {
  sweepId: string;
}

export interface RedisConnectionOptions {
  url: string;
  /** Needed for BullMQ Workers (blocking commands must not time out). */
  forWorker?: boolean;
}

export function createRedis({ url, forWorker = false }: RedisConnectionOptions): Redis {
  const opts: RedisOptions = {
    // BullMQ requires null for workers; queues fail fast instead of piling up commands when Redis is gone.
    maxRetriesPerRequest: forWorker ? null : 3,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  };
  return new Redis(url, opts);
}

export function createTrialQueue(connection: Redis, prefix: string, opts: Partial<QueueOptions> = {}) {
  return new Queue<TrialJobData, unknown, string>(QUEUE_TRIALS, { connection, prefix, ...opts });
}

export function createFitQueue(connection: Redis, prefix: string, opts: Partial<QueueOptions> = {}) {
  return new Queue<FitJobData, unknown, string>(QUEUE_FITS, { connection, prefix, ...opts });
}

export type TrialQueue = ReturnType<typeof createTrialQueue>;
export type FitQueue = ReturnType<typeof createFitQueue>;

export interface EnqueueTrial {
  id: string;
  sweepId: string;
  /** The sweep's priority as documents write it: 1 is the highest, larger runs later, 0 (none) runs last. */
  priority?: number;
  /** Run no earlier than this many ms from now (a retry's backoff). */
  delayMs?: number;
}

/** BullMQ's lowest priority. */
export const LOWEST_PRIORITY = 2_097_151;

/**
 * The BullMQ priority of a sweep priority. BullMQ runs jobs without a priority before every
 * prioritised one, so every trial job gets one: a sweep without a priority (0) gets the lowest,
 * and `priority: 1` runs before all others, as documented.
 */
export const bullPriority = (priority = 0) => (priority > 0 ? Math.min(priority, LOWEST_PRIORITY) : LOWEST_PRIORITY);

/** Failed jobs stay this long (for inspection), then BullMQ removes them. */
export const FAILED_JOB_RETENTION_SECONDS = 7 * 24 * 3600;

/**
 * Job options for a trial. Its id is the job id (enqueueing twice is a no-op). The job is transport
 * only: attempts, retries and their backoff are decided in Postgres (Trial.attempts, the
 * orchestrator's retry policy), so BullMQ runs each job once. A completed job is removed at once
 * (its result is in Postgres); a failed one is kept for FAILED_JOB_RETENTION_SECONDS.
 */
export function trialJobOptions(t: EnqueueTrial): JobsOptions {
  return {
    jobId: t.id,
    attempts: 1,
    priority: bullPriority(t.priority),
    ...(t.delayMs ? { delay: t.delayMs } : {}),
    removeOnComplete: true,
    removeOnFail: { age: FAILED_JOB_RETENTION_SECONDS },
  };
}

export const ENQUEUE_CHUNK = 1000;

/**
 * Adds trial jobs with addBulk in chunks. Idempotent: a job whose id already exists is left as it is.
 * Yields to the event loop between chunks so a server stays responsive during a large sweep.
 */
export async function enqueueTrials(queue: TrialQueue, trials: EnqueueTrial[], chunk = ENQUEUE_CHUNK): Promise<void> {
  for (let i = 0; i < trials.length; i += chunk) {
    const slice = trials.slice(i, i + chunk);
    await queue.addBulk(
      slice.map((t) => ({ name: "trial", data: { trialId: t.id, sweepId: t.sweepId }, opts: trialJobOptions(t) })),
    );
    await new Promise((r) => setImmediate(r));
  }
}

/** Asks the fitter to refit a sweep: deduplicated per sweep and delayed, so a burst of finishes makes one fit. */
export async function requestFit(queue: FitQueue, sweepId: string, debounceMs = 2000): Promise<void> {
  await queue.add(
    "fit",
    { sweepId },
    {
      deduplication: { id: `fit:${sweepId}`, ttl: debounceMs },
      delay: debounceMs,
      removeOnComplete: true,
      removeOnFail: 100,
    },
  );
}
