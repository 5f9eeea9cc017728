// The one retry policy. Attempts are counted in Postgres (Trial.attempts, + 1 at each claim); BullMQ
// runs each job once. A trial that crashes, or whose worker is lost (lease expired), runs again
// after a capped exponential backoff until it has used its attempts; then it fails.
import { MAX_TRIAL_ATTEMPTS } from "@powersweep/spec";

/** The most attempts a sweep may ask for (Sweep.maxAttempts is capped to it). */
export const MAX_ATTEMPTS = MAX_TRIAL_ATTEMPTS;
/** The longest wait before a retry. */
export const MAX_BACKOFF_MS = 10 * 60_000;
/** The wait before the second attempt; it doubles for each further one. */
export const FIRST_BACKOFF_MS = 1000;

/** Attempts a trial of a sweep with this maxAttempts may use (1 to MAX_ATTEMPTS). */
export const attemptLimit = (maxAttempts: number) => Math.min(MAX_ATTEMPTS, Math.max(1, Math.floor(maxAttempts)));

/** Whether a trial that has used `attempts` attempts (and the last one failed) may run again. */
export const mayRetry = (attempts: number, maxAttempts: number) => attempts < attemptLimit(maxAttempts);

/** The wait before the attempt after attempt number `attempts` (≥ 1). */
export const retryDelayMs = (attempts: number) =>
  Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** Math.max(0, Math.min(attempts - 1, 30)));

/** The same policy in SQL, for statements that decide many trials at once (the lease sweeper). */
export const SQL_ATTEMPT_LIMIT = (maxAttempts: string) => `LEAST(${MAX_ATTEMPTS}, GREATEST(1, ${maxAttempts}))`;
