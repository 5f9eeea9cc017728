// One definition of every queue contract: names, job payloads, connections, key prefix and the
// enqueue operations. Apps wire these to BullMQ; nothing else names a queue.
import { type JobsOptions, Queue, type QueueOptions } from "bullmq";
import { Redis, type RedisOptions } from "ioredis";

export const QUEUE_TRIALS = "trials";
export const QUEUE_FITS = "fits";
/** Pub/sub channel (under the prefix) on which running trials of a cancelled sweep are told to stop. */
export const CHANNEL_CANCEL = "cancel";

/** A trial job. The BullMQ job id is the trial id, so enqueueing twice is a no-op. */
export interface TrialJobData {
  trialId: string;
  sweepId: string;
}

/** A refit request, deduplicated per sweep. */
export interface FitJobData {
  sweepId: string;
}

/** A cancel notice, published on CHANNEL_CANCEL. */
export interface CancelMessage {
  sweepId: string;
  trialIds?: string[];
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

export function cancelChannel(prefix: string): string {
  return `${prefix}:${CHANNEL_CANCEL}`;
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
  /** BullMQ priority: 0 = none, 1 is highest. */
  priority?: number;
  maxAttempts?: number;
}

/** Job options for a trial: its id is the job id, crashes retry with exponential backoff. */
export function trialJobOptions(t: EnqueueTrial): JobsOptions {
  return {
    jobId: t.id,
    attempts: Math.max(1, t.maxAttempts ?? 3),
    backoff: { type: "exponential", delay: 1000 },
    ...(t.priority ? { priority: t.priority } : {}),
    removeOnComplete: { count: 1000 },
    removeOnFail: { count: 10000 },
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
