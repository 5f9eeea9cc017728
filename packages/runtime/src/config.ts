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
  /** Largest `tokens` (T) one trial may ask for, in documents, imports and extends. */
  maxTokensPerTrial: number;
  /** When set, GET /metrics needs `Authorization: Bearer <metricsToken>`. */
  metricsToken: string | null;
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
    maxTokensPerTrial: positiveNumber(env, "MAX_TOKENS_PER_TRIAL", DEFAULT_MAX_TOKENS_PER_TRIAL),
    metricsToken: env.METRICS_TOKEN || null,
  };
}
