// CLI entry: `node apps/worker/dist/main.js [--devices 0,1,2,3] [--concurrency N] [--trainer-exec name=cmd ...]`
// Connection settings come from the environment (packages/runtime loadConfig). Test-only tuning
// through env: WORKER_LOCK_MS, WORKER_STALLED_MS, WORKER_HEARTBEAT_MS, WORKER_CHECKPOINT_TOKENS,
// WORKER_SHUTDOWN_MS, WORKER_PROGRESS_MS.
import { loadConfig } from "@powersweep/runtime";
import { startWorker, type WorkerOptions } from "./index.ts";

export interface WorkerArgs {
  devices?: string[];
  concurrency?: number;
  execTrainers: Record<string, string[]>;
}

/** Parses worker flags; exec commands are split on whitespace (`name=python3 train.py`). */
export function parseWorkerArgs(argv: string[]): WorkerArgs {
  const out: WorkerArgs = { execTrainers: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? "";
    const [flag, inline] =
      a.includes("=") && a.startsWith("--")
        ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]
        : [a, undefined];
    const value = () => inline ?? argv[++i] ?? "";
    if (flag === "--devices")
      out.devices = value()
        .split(",")
        .map((d) => d.trim())
        .filter(Boolean);
    else if (flag === "--concurrency") {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1) throw new Error("--concurrency must be a positive integer");
      out.concurrency = n;
    } else if (flag === "--trainer-exec") {
      const spec = value();
      const eq = spec.indexOf("=");
      if (eq <= 0) throw new Error(`--trainer-exec expects name=command, got "${spec}"`);
      out.execTrainers[spec.slice(0, eq)] = spec
        .slice(eq + 1)
        .trim()
        .split(/\s+/);
    } else throw new Error(`unknown flag ${a}`);
  }
  return out;
}

const num = (v: string | undefined) => (v && Number.isFinite(Number(v)) ? Number(v) : undefined);

export function workerOptionsFromEnv(args: WorkerArgs, env: NodeJS.ProcessEnv = process.env): WorkerOptions {
  const c = loadConfig(env);
  return {
    databaseUrl: c.databaseUrl,
    redisUrl: c.redisUrl,
    redisPrefix: c.redisPrefix,
    checkpointDir: c.checkpointDir,
    trialMaxSeconds: c.trialMaxSeconds,
    devices: args.devices,
    concurrency: args.concurrency,
    execTrainers: args.execTrainers,
    lockDurationMs: num(env.WORKER_LOCK_MS),
    stalledIntervalMs: num(env.WORKER_STALLED_MS),
    heartbeatMs: num(env.WORKER_HEARTBEAT_MS),
    checkpointEveryTokens: num(env.WORKER_CHECKPOINT_TOKENS),
    shutdownTimeoutMs: num(env.WORKER_SHUTDOWN_MS),
    progressIntervalMs: num(env.WORKER_PROGRESS_MS),
  };
}

async function main() {
  const w = await startWorker(workerOptionsFromEnv(parseWorkerArgs(process.argv.slice(2))));
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.error(JSON.stringify({ msg: "signal, shutting down", signal }));
    w.close().then(
      () => process.exit(0),
      (e) => {
        console.error(e);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  // Tests read this line to know the worker is consuming.
  console.log(JSON.stringify({ ready: true, workerId: w.id }));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
