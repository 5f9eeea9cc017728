// The gradient worker (a worker_threads thread with its own tfjs-wasm): holds a replica of the
// model's shape, and on each step loads the current parameters from shared memory, computes the
// loss and gradients of the second half of the batch, and writes them back (see data-parallel.ts).
import { parentPort } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { readInto, tuneWasmKernels } from "./backend.ts";
import { CTRL_DONE, CTRL_FAILED, type ModelMessage, type StepMessage } from "./data-parallel.ts";
import { createGPT, type GPT } from "./gpt.ts";

const port = parentPort;
if (!port) throw new Error("grad-worker.ts runs only as a worker thread");
const { ctrl } = (await new Promise((resolve) => port.once("message", resolve))) as { ctrl: Int32Array };

const finish = (seq: number, failed: boolean) => {
  Atomics.store(ctrl, CTRL_FAILED, failed ? 1 : 0);
  Atomics.store(ctrl, CTRL_DONE, seq);
  Atomics.notify(ctrl, CTRL_DONE);
};

let model: GPT | null = null;
let buffers: ModelMessage | null = null;
try {
  if (!(await tf.setBackend("wasm"))) throw new Error("wasm backend failed to start");
  await tf.ready();
  tuneWasmKernels(); // as initBackend does on the main thread
  finish(0, false); // ready
} catch (error) {
  console.error(`gradient worker: ${(error as Error).message}`);
  finish(-1, true);
}

port.on("message", (msg: ModelMessage | StepMessage) => {
  if (msg.type === "model") {
    model?.dispose();
    model = null;
    buffers = msg;
    try {
      model = createGPT(msg.config, 0); // values are overwritten from shared memory every step
    } catch (error) {
      console.error(`gradient worker: ${(error as Error).message}`);
    }
    return;
  }
  const m = model;
  const b = buffers;
  if (!m || !b) return finish(msg.seq, true);
  let ok = false;
  try {
    const vars = [...m.params.values()];
    tf.tidy(() => {
      let at = 0;
      for (const v of vars) {
        v.assign(tf.tensor(b.params.subarray(at, at + v.size), v.shape, "float32"));
        at += v.size;
      }
    });
    const n = msg.batchSize * m.config.seqLen;
    const ids = tf.tensor1d(b.ids.subarray(0, n), "int32");
    const targets = tf.tensor1d(b.ids.subarray(n, 2 * n), "int32");
    try {
      const { value, grads } = tf.variableGrads(() => m.loss(ids, targets, msg.batchSize), vars);
      b.loss[0] = value.dataSync()[0] as number;
      let at = 0;
      for (const v of vars) {
        readInto(b.grads.subarray(at, at + v.size), grads[v.name] as tf.Tensor);
        at += v.size;
      }
      tf.dispose([value, ...Object.values(grads)]);
      ok = true;
    } finally {
      tf.dispose([ids, targets]);
    }
  } catch (error) {
    console.error(`gradient worker: ${(error as Error).message}`);
  }
  finish(msg.seq, !ok);
});
