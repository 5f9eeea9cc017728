// The gradient worker (a worker_threads thread with its own tfjs-wasm): holds a replica of the
// model's shape, and on each step loads the current parameters from shared memory, computes the
// loss and gradients of the second half of the batch, and writes them back (see data-parallel.ts).
// Between steps it sleeps in Atomics.wait on the step word; model messages are taken off the port
// synchronously when a step names a model generation it has not seen yet.
import { type MessagePort, parentPort, receiveMessageOnPort } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { readInto, tuneWasmKernels } from "./backend.ts";
import { CTRL_DONE, CTRL_FAILED, CTRL_MODEL, CTRL_ROWS, CTRL_STEP, type ModelMessage } from "./data-parallel.ts";
import { createGPT, type GPT } from "./gpt.ts";

const port = parentPort as MessagePort | null;
if (!port) throw new Error("grad-worker.ts runs only as a worker thread");
const { ctrl } = (await new Promise((resolve) => port.once("message", resolve))) as { ctrl: Int32Array };

const finish = (seq: number, failed: boolean) => {
  Atomics.store(ctrl, CTRL_FAILED, failed ? 1 : 0);
  Atomics.store(ctrl, CTRL_DONE, seq);
  Atomics.notify(ctrl, CTRL_DONE);
};

let model: GPT | null = null;
let buffers: ModelMessage | null = null;
let ready = false;
try {
  if (!(await tf.setBackend("wasm"))) throw new Error("wasm backend failed to start");
  await tf.ready();
  tuneWasmKernels(); // as initBackend does on the main thread
  ready = true;
} catch (error) {
  console.error(`gradient worker: ${(error as Error).message}`);
  finish(-1, true);
}

/** Take model messages off the port until the one of `generation` has been applied. */
function loadModel(generation: number): void {
  while ((buffers?.generation ?? 0) < generation) {
    const received = receiveMessageOnPort(port as MessagePort);
    if (!received) {
      Atomics.wait(ctrl, CTRL_STEP, Atomics.load(ctrl, CTRL_STEP), 1); // posted, not yet delivered
      continue;
    }
    const msg = received.message as ModelMessage;
    model?.dispose();
    model = null;
    buffers = msg;
    try {
      model = createGPT(msg.config, 0); // values are overwritten from shared memory every step
    } catch (error) {
      console.error(`gradient worker: ${(error as Error).message}`);
    }
  }
}

function step(batchSize: number): boolean {
  const m = model;
  const b = buffers;
  if (!m || !b) return false;
  try {
    const vars = [...m.params.values()];
    tf.tidy(() => {
      let at = 0;
      for (const v of vars) {
        v.assign(tf.tensor(b.params.subarray(at, at + v.size), v.shape, "float32"));
        at += v.size;
      }
    });
    const n = batchSize * m.config.seqLen;
    const ids = tf.tensor1d(b.ids.subarray(0, n), "int32");
    const targets = tf.tensor1d(b.ids.subarray(n, 2 * n), "int32");
    try {
      const { value, grads } = tf.variableGrads(() => m.loss(ids, targets, batchSize), vars);
      b.loss[0] = value.dataSync()[0] as number;
      let at = 0;
      for (const v of vars) {
        readInto(b.grads.subarray(at, at + v.size), grads[v.name] as tf.Tensor);
        at += v.size;
      }
      tf.dispose([value, ...Object.values(grads)]);
      return true;
    } finally {
      tf.dispose([ids, targets]);
    }
  } catch (error) {
    console.error(`gradient worker: ${(error as Error).message}`);
    return false;
  }
}

if (ready) {
  finish(0, false); // ready
  // Steps until the thread is terminated (it is unref'd: it never keeps the process alive).
  for (let last = 0; ; ) {
    Atomics.wait(ctrl, CTRL_STEP, last);
    const seq = Atomics.load(ctrl, CTRL_STEP);
    if (seq === last) continue;
    last = seq;
    loadModel(Atomics.load(ctrl, CTRL_MODEL));
    finish(seq, !step(Atomics.load(ctrl, CTRL_ROWS)));
  }
}
