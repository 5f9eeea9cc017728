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
  /** Log level of the processes; a line per HTTP request only at "debug" or "trace". */
  logLevel: LogLevel;
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
    logLevel: logLevel(env),
  };
}
