// CLI entry: `node apps/worker/dist/main.js [--devices 0,1 [--slots-per-device N]] [--concurrency N]
// [--trainer-exec name=cmd ...]` (the flags of `powersweep worker`, parsed by args.ts).
// Every setting comes from the environment through packages/runtime loadConfig (workerOptions in
// index.ts); the CLI's `powersweep worker` and Docker build the same options.
import { loadConfig } from "@powersweep/runtime";
import { parseWorkerArgs, type WorkerArgs } from "./args.ts";
import { startWorker, type WorkerOptions, workerOptions } from "./index.ts";

export { parseWorkerArgs };

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
