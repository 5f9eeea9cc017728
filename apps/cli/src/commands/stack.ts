// Process commands: `start` (api + fitter + worker in one foreground process), `api`, `fitter`, `worker`.
import { hostname } from "node:os";
import {
  ensurePostgres,
  ensureRedis,
  loadConfig,
  migrate,
  type PowersweepConfig,
  ServiceUnavailableError,
} from "@powersweep/runtime";

export interface Closable {
  close(): Promise<void>;
}

/** Checks both services (one clear line if either is down), creates the database if needed, migrates. */
export async function prepareServices(config: PowersweepConfig, { migrations = true } = {}): Promise<void> {
  await ensurePostgres(config.databaseUrl);
  await ensureRedis(config.redisUrl);
  if (migrations) await migrate(config.databaseUrl);
}

export interface WorkerFlags {
  devices?: string;
  concurrency?: string;
  trainerExec?: string[];
}

export function parseWorkerFlags(flags: WorkerFlags) {
  const devices = flags.devices
    ? flags.devices
        .split(",")
        .map((d) => d.trim())
        .filter(Boolean)
    : undefined;
  const concurrency = flags.concurrency === undefined ? undefined : Number(flags.concurrency);
  if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1)) {
    throw new ServiceUnavailableError(`--concurrency must be a positive integer, got "${flags.concurrency}"`);
  }
  const execTrainers: Record<string, string[]> = {};
  for (const spec of flags.trainerExec ?? []) {
    const eq = spec.indexOf("=");
    if (eq <= 0) throw new ServiceUnavailableError(`--trainer-exec expects name=command, got "${spec}"`);
    execTrainers[spec.slice(0, eq)] = spec
      .slice(eq + 1)
      .split(" ")
      .filter(Boolean);
  }
  return { devices, concurrency, execTrainers };
}

/** Worker options from the process configuration plus command-line flags (one definition: the worker's). */
export async function workerOptions(
  config: PowersweepConfig,
  flags: ReturnType<typeof parseWorkerFlags> | { concurrency?: number } = {},
) {
  const { workerOptions: fromConfig } = await import("@powersweep/worker");
  return fromConfig(config, flags);
}

/** Runs until SIGINT/SIGTERM, then closes everything (workers release their trials). */
export function closeOnSignals(parts: Closable[], label: string): void {
  let closing = false;
  const stop = async (signal: string) => {
    if (closing) return;
    closing = true;
    console.error(`${label}: ${signal}, shutting down…`);
    const timer = setTimeout(() => {
      console.error(`${label}: shutdown timed out, exiting`);
      process.exit(1);
    }, 60_000);
    timer.unref();
    for (const p of parts.reverse())
      await p.close().catch((e) => console.error(`${label}: close failed: ${e.message}`));
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

export async function startStack(opts: { workers?: number; config?: PowersweepConfig; quiet?: boolean } = {}) {
  const config = opts.config ?? loadConfig();
  await prepareServices(config);
  const { startApi } = await import("@powersweep/api");
  const { startFitter } = await import("@powersweep/fitter");
  const { startWorker } = await import("@powersweep/worker");
  const api = await startApi(config);
  const fitter = await startFitter(config);
  const worker = await startWorker(await workerOptions(config, { concurrency: opts.workers ?? 1 }));
  if (!opts.quiet) {
    console.log(
      `powersweep: api on http://${config.host}:${config.port} (host ${hostname()}), fitter, worker ×${opts.workers ?? 1}`,
    );
  }
  return { config, api, fitter, worker, parts: [api, fitter, worker] as Closable[] };
}
