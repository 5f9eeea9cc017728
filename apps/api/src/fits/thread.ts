// The worker-thread side of pool.ts: one fit job per message.
import { parentPort } from "node:worker_threads";
import { runFitJob } from "./job.ts";

parentPort?.on("message", (m: { id: number; text: string; maxRows: number }) => {
  try {
    parentPort?.postMessage({ id: m.id, result: runFitJob(m.text, m.maxRows) });
  } catch (err) {
    parentPort?.postMessage({ id: m.id, error: (err as Error).message });
  }
});
parentPort?.postMessage({ ready: true });
