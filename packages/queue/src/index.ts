// One definition of every queue contract: names, job payloads, connection and key prefix.
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
