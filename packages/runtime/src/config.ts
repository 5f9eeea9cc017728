// Process configuration from the environment: one place for every variable README documents.
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

export const DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/powersweep";
export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

function int(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return v;
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
