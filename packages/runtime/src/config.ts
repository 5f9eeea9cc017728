// Process configuration from the environment: one place for every variable README documents.
import { delimiter, isAbsolute, resolve } from "node:path";

export interface PowersweepConfig {
  databaseUrl: string;
  redisUrl: string;
  /** BullMQ key prefix; tests give each run its own. */
  redisPrefix: string;
  port: number;
  host: string;
  /** Where trainers write checkpoints; a shared filesystem for a fleet. */
  checkpointDir: string;
  /** Largest sweep accepted, in trials. */
  maxTrialsPerSweep: number;
  /** Workers silent for longer than this show as lost. */
  workerLostAfterSeconds: number;
  /** Log level of the processes; a line per HTTP request only at "debug" or "trace". */
  logLevel: LogLevel;
  /** Failed token checks per client address and minute before the API answers 429. */
  authFailuresPerMinute: number;
  /** Most rows an ad-hoc fit (POST /v1/fits) takes. */
  fitMaxRows: number;
  /** Longest an ad-hoc fit may run, in seconds. */
  fitTimeoutSeconds: number;
  /**
   * Directories whose files sweep documents may name as corpora (absolute, resolved). Empty: no
   * file corpora, only the built-in ones.
   */
  dataRoots: string[];
  /** Most wall-clock seconds one trial attempt may run. */
  trialMaxSeconds: number;
  /** Fits of different sweeps the fitter runs at once (each in a worker thread). */
  fitterConcurrency: number;
  /** Largest `tokens` (T) one trial may ask for, in documents, imports and extends. */
  maxTokensPerTrial: number;
  /** When set, GET /metrics needs `Authorization: Bearer <metricsToken>`. */
  metricsToken: string | null;
  /** Lease of a running trial, renewed by its worker's heartbeat; past it the sweeper takes the trial back. */
  trialLeaseSeconds: number;
  /** How often the sweeper (API process) runs: expired leases, queued trials without jobs, sweep statuses. */
  sweeperIntervalMs: number;
  /** Workers checkpoint every N training tokens (0: only when stopped), so a killed worker's trial resumes. */
  checkpointEveryTokens: number;
  /** Worker tuning, mostly for tests; undefined keeps the worker's defaults. */
  worker: {
    heartbeatMs?: number;
    lockDurationMs?: number;
    stalledIntervalMs?: number;
    shutdownTimeoutMs?: number;
    progressIntervalMs?: number;
  };
}

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

function logLevel(env: NodeJS.ProcessEnv): LogLevel {
  const raw = env.LOG_LEVEL || "info";
  if (!(LOG_LEVELS as readonly string[]).includes(raw))
    throw new Error(`LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}, got "${raw}"`);
  return raw as LogLevel;
}

export const DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/powersweep";
export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

/** Default MAX_TOKENS_PER_TRIAL: 10¹², the scale of the largest published LR-law runs. */
export const DEFAULT_MAX_TOKENS_PER_TRIAL = 1e12;

function positiveNumber(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return v;
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return v;
}

/** DATA_ROOTS: absolute directories separated by the platform's path delimiter (":" on Linux). */
export function parseDataRoots(raw: string | undefined): string[] {
  if (!raw) return [];
  return raw
    .split(delimiter)
    .map((r) => r.trim())
    .filter(Boolean)
    .map((r) => {
      if (!isAbsolute(r)) throw new Error(`DATA_ROOTS entries must be absolute directories, got "${r}"`);
      return resolve(r);
    });
}

function optionalInt(env: NodeJS.ProcessEnv, name: string): number | undefined {
  return env[name] === undefined || env[name] === "" ? undefined : int(env, name, 0);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): PowersweepConfig {
  return {
    databaseUrl: env.DATABASE_URL || DEFAULT_DATABASE_URL,
    redisUrl: env.REDIS_URL || DEFAULT_REDIS_URL,
    redisPrefix: env.REDIS_PREFIX || "powersweep",
    port: int(env, "PORT", 8080),
    host: env.HOST || "127.0.0.1",
    checkpointDir: env.CHECKPOINT_DIR || ".checkpoints",
    maxTrialsPerSweep: int(env, "MAX_TRIALS_PER_SWEEP", 200_000),
    workerLostAfterSeconds: int(env, "WORKER_LOST_AFTER_SECONDS", 60),
    logLevel: logLevel(env),
    authFailuresPerMinute: int(env, "AUTH_FAILURES_PER_MINUTE", 20),
    fitMaxRows: int(env, "FIT_MAX_ROWS", 100_000),
    fitTimeoutSeconds: int(env, "FIT_TIMEOUT_SECONDS", 60),
    dataRoots: parseDataRoots(env.DATA_ROOTS),
    trialMaxSeconds: int(env, "TRIAL_MAX_SECONDS", 7 * 24 * 3600),
    fitterConcurrency: int(env, "FITTER_CONCURRENCY", 2),
    maxTokensPerTrial: positiveNumber(env, "MAX_TOKENS_PER_TRIAL", DEFAULT_MAX_TOKENS_PER_TRIAL),
    metricsToken: env.METRICS_TOKEN || null,
    trialLeaseSeconds: int(env, "TRIAL_LEASE_SECONDS", 60),
    sweeperIntervalMs: int(env, "SWEEPER_INTERVAL_MS", 30_000),
    checkpointEveryTokens: int(env, "CHECKPOINT_EVERY_TOKENS", 0),
    worker: {
      heartbeatMs: optionalInt(env, "WORKER_HEARTBEAT_MS"),
      lockDurationMs: optionalInt(env, "WORKER_LOCK_MS"),
      stalledIntervalMs: optionalInt(env, "WORKER_STALLED_MS"),
      shutdownTimeoutMs: optionalInt(env, "WORKER_SHUTDOWN_MS"),
      progressIntervalMs: optionalInt(env, "WORKER_PROGRESS_MS"),
    },
  };
}
