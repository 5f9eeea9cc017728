// CLI entry: `tsx apps/worker/src/main.ts [--devices 0,1,2,3] [--concurrency N] [--trainer-exec name=cmd ...]`
// Every setting comes from the environment through packages/runtime loadConfig (workerOptions in
// index.ts); the CLI's `powersweep worker` and Docker build the same options.
import { loadConfig } from "@powersweep/runtime";
import { startWorker, type WorkerOptions, workerOptions } from "./index.ts";

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

export function workerOptionsFromEnv(args: WorkerArgs, env: NodeJS.ProcessEnv = process.env): WorkerOptions {
  return workerOptions(loadConfig(env), args);
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
