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

/**
 * The bootstrap of a new deployment: on a database without any API token, creates an admin token
 * named "admin" and prints it, once (never again once any token exists). Off when auth is off.
 */
export async function printFirstAdminToken(config: PowersweepConfig): Promise<void> {
  if (process.env.POWERSWEEP_AUTH === "off") return;
  const { createDb } = await import("@powersweep/db");
  const { bootstrapAdminToken } = await import("@powersweep/orchestrator");
  const db = createDb({ url: config.databaseUrl, max: 1 });
  try {
    const first = await bootstrapAdminToken(db);
    if (!first) return;
    console.log(
      [
        "powersweep: a new deployment; its first admin token (shown this once, keep it):",
        `  ${first.token}`,
        "  make others with: powersweep token create --name <name> --scope submit --token <this token>",
      ].join("\n"),
    );
  } finally {
    await db.$disconnect();
  }
}

export interface WorkerFlags {
  devices?: string;
  slotsPerDevice?: string;
  concurrency?: string;
  trainerExec?: string[];
}

/** The worker's own parser (one definition of the flags), fed the options commander collected. */
export async function parseWorkerFlags(flags: WorkerFlags) {
  const { parseWorkerArgs } = await import("@powersweep/worker");
  const argv = [
    ...(flags.devices !== undefined ? ["--devices", flags.devices] : []),
    ...(flags.slotsPerDevice !== undefined ? ["--slots-per-device", flags.slotsPerDevice] : []),
    ...(flags.concurrency !== undefined ? ["--concurrency", flags.concurrency] : []),
    ...(flags.trainerExec ?? []).flatMap((t) => ["--trainer-exec", t]),
  ];
  try {
    return parseWorkerArgs(argv);
  } catch (e) {
    throw new ServiceUnavailableError((e as Error).message);
  }
}

/** Worker options from the process configuration plus command-line flags (one definition: the worker's). */
export async function workerOptions(
  config: PowersweepConfig,
  flags: Awaited<ReturnType<typeof parseWorkerFlags>> | { concurrency?: number } = {},
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
  await printFirstAdminToken(config);
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
