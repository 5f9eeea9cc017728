// Two-way data parallelism for a training step on tfjs-wasm, which computes on one thread.
//
// A step on a batch of B rows (B even) is split into two shards of B/2 rows: the loss is the mean of
// the two shards' mean losses and the gradient the mean of their gradients — the same quantities as
// for the whole batch, up to float rounding. Shard 0 runs on the calling thread; shard 1 runs at the
// same time in a worker thread with its own tfjs-wasm and a replica of the model, which reads the
// current parameters from shared memory and writes its loss and gradients back (one handshake per
// step through Atomics, so trainStep stays synchronous). Without the worker (one core,
// POWERSWEEP_GRAD_WORKER=0, or it failed to start) shard 1 runs on the calling thread after
// shard 0: both ways give bit-identical results, so a trial's numbers do not depend on the machine.

import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import { readInto } from "./backend.ts";
import type { GPT, GPTConfig } from "./gpt.ts";

// ---- messages and shared control words between this thread and grad-worker.ts ----
// A model (its shape and the shared buffers) travels as a message; steps are signalled through the
// control words alone: the worker sleeps in Atomics.wait on CTRL_STEP and wakes at once, where a
// message would first wait for its event loop to wake (measured 1.5–2.6 ms a step at d64).
export interface ModelMessage {
  type: "model";
  /** Counts up with every model message; a step names the one it is for in CTRL_MODEL. */
  generation: number;
  config: GPTConfig;
  /** Parameters in, gradients out: all model.params concatenated in order. */
  params: Float32Array;
  grads: Float32Array;
  /** inputs then targets of the shard (2 × capacity int32). */
  ids: Int32Array;
  /** [loss] */
  loss: Float64Array;
}
/** Last finished step seq (−1 after a failed start, 0 when ready). */
export const CTRL_DONE = 0;
/** 1 when that step failed. */
export const CTRL_FAILED = 1;
/** The step asked for (seq; set last, after CTRL_ROWS and CTRL_MODEL). */
export const CTRL_STEP = 2;
/** Rows of seqLen tokens in the asked step's shard. */
export const CTRL_ROWS = 3;
/** Generation of the model message the asked step is for. */
export const CTRL_MODEL = 4;
const CTRL_WORDS = 5;

/** Shards a batch of batchSize rows is split into on the current backend (1 = no split). */
export function shardCount(batchSize: number): number {
  return tf.getBackend() === "wasm" && batchSize >= 2 && batchSize % 2 === 0 ? 2 : 1;
}

let enabled: boolean | null = null;
/** Force the gradient worker on or off; null restores the default (on with ≥ 2 cores). */
export function setGradientWorker(on: boolean | null): void {
  enabled = on;
}
function workerWanted(): boolean {
  if (enabled !== null) return enabled;
  if (process.env.POWERSWEEP_GRAD_WORKER === "0") return false;
  return availableParallelism() >= 2;
}

interface Helper {
  worker: Worker;
  ctrl: Int32Array;
  seq: number;
  /** Of the last model message. */
  generation: number;
  /** The model (and its buffers) the worker holds a replica of. */
  model: GPT | null;
  buffers: Omit<ModelMessage, "type" | "config" | "generation"> | null;
}
let helper: Helper | null = null;
let helperFailed = false;

/** Whether shard 1 of the last sharded step ran in the worker ("running"), or why not. */
export function gradientWorkerState(): "not started" | "running" | "failed" {
  return helper ? "running" : helperFailed ? "failed" : "not started";
}

const STARTING = -2;
const START_TIMEOUT_MS = 120_000;

/** From the sources (tests): a plain-JS bootstrap registers tsx in the thread, then loads grad-worker.ts. */
function tsxWorker(): Worker {
  const require = createRequire(import.meta.url);
  // tsx's ESM register API ("tsx/esm/api" under the import condition)
  const tsx = pathToFileURL(require.resolve("tsx/esm/api").replace(/\.c?js$/, ".mjs")).href;
  const entry = new URL("./grad-worker.ts", import.meta.url).href;
  const boot = `import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(entry)}); }).catch((e) => { console.error(e); process.exit(1); });`;
  return new Worker(boot, { eval: true, execArgv: [] });
}

function startHelper(): Helper | null {
  if (helperFailed) return null;
  try {
    const worker = import.meta.url.endsWith(".ts")
      ? tsxWorker()
      : new Worker(new URL("./grad-worker.js", import.meta.url), { execArgv: [] });
    worker.unref(); // never keeps the process alive
    worker.on("error", (error) => console.error(`gradient worker: ${error.message}`));
    const ctrl = new Int32Array(new SharedArrayBuffer(4 * CTRL_WORDS));
    ctrl[CTRL_DONE] = STARTING;
    worker.postMessage({ ctrl });
    const started = performance.now();
    while (Atomics.load(ctrl, CTRL_DONE) === STARTING && performance.now() - started < START_TIMEOUT_MS)
      Atomics.wait(ctrl, CTRL_DONE, STARTING, 1000);
    if (Atomics.load(ctrl, CTRL_DONE) !== 0) throw new Error("did not start");
    return { worker, ctrl, seq: 0, generation: 0, model: null, buffers: null };
  } catch (error) {
    console.warn(`gradient worker unavailable (${(error as Error).message}); computing both shards here`);
    helperFailed = true;
    return null;
  }
}

function giveUp(h: Helper, why: string): void {
  console.warn(`gradient worker: ${why}; computing both shards here from now on`);
  void h.worker.terminate();
  helper = null;
  helperFailed = true;
}

/** A pending shard-1 computation in the worker. */
export interface PendingShard {
  /** Wait for it; null when the worker failed (compute the shard here instead). */
  result(ownMs: number): { loss: number; grads: Float32Array } | null;
}

/**
 * Start shard 1 (inputs/targets of batchSize rows) in the worker with the model's current
 * parameters. Returns null when there is no worker (compute it on this thread).
 */
export function startShard(
  model: GPT,
  inputs: Int32Array,
  targets: Int32Array,
  batchSize: number,
): PendingShard | null {
  if (!workerWanted()) return null;
  helper ??= startHelper();
  const h = helper;
  if (!h) return null;
  // a step whose result was never collected (its caller threw) may still be reading the buffers
  if (!waitFor(h, h.seq, 600_000)) return null;
  const vars = [...model.params.values()];
  const n = inputs.length;
  if (h.model !== model || !h.buffers || h.buffers.ids.length < 2 * n) {
    const size = vars.reduce((s, v) => s + v.size, 0);
    const buffers = {
      params: new Float32Array(new SharedArrayBuffer(4 * size)),
      grads: new Float32Array(new SharedArrayBuffer(4 * size)),
      ids: new Int32Array(new SharedArrayBuffer(8 * n)),
      loss: new Float64Array(new SharedArrayBuffer(8)),
    };
    h.generation++;
    h.worker.postMessage({
      type: "model",
      generation: h.generation,
      config: model.config,
      ...buffers,
    } satisfies ModelMessage);
    h.model = model;
    h.buffers = buffers;
  }
  const b = h.buffers;
  let at = 0;
  for (const v of vars) {
    readInto(b.params.subarray(at, at + v.size), v);
    at += v.size;
  }
  b.ids.set(inputs, 0);
  b.ids.set(targets, n);
  const seq = ++h.seq;
  Atomics.store(h.ctrl, CTRL_ROWS, batchSize);
  Atomics.store(h.ctrl, CTRL_MODEL, h.generation);
  Atomics.store(h.ctrl, CTRL_STEP, seq);
  Atomics.notify(h.ctrl, CTRL_STEP);
  return {
    result(ownMs) {
      // the worker does the same work as this thread: allow it far longer before giving up
      if (!waitFor(h, seq, Math.max(60_000, 50 * ownMs))) return null;
      if (Atomics.load(h.ctrl, CTRL_FAILED) === 1) {
        giveUp(h, "a step failed");
        return null;
      }
      return { loss: b.loss[0] as number, grads: b.grads };
    },
  };
}

/** Block until the worker has finished step seq; false (and the worker dropped) on timeout. */
function waitFor(h: Helper, seq: number, limitMs: number): boolean {
  const started = performance.now();
  for (;;) {
    const done = Atomics.load(h.ctrl, CTRL_DONE);
    if (done === seq) return true;
    if (performance.now() - started > limitMs) {
      giveUp(h, `no answer in ${Math.round(limitMs / 1000)} s`);
      return false;
    }
    // sleeps only while the word still holds the value just checked (a store in between wakes it
    // at once; re-reading the word here could miss that store and sleep the full second)
    Atomics.wait(h.ctrl, CTRL_DONE, done, 1000);
  }
}
