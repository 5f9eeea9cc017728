// Backend selection. tfjs-wasm is the default (measured fastest that installs everywhere, see
// ENVIRONMENT.md); @tensorflow/tfjs-node(-gpu) are optional accelerators, loaded only when present.
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";

export type BackendName = "wasm" | "cpu" | "tensorflow";

/** Node bindings tried, in order, for the "tensorflow" backend. Never dependencies of this repo. */
const NATIVE_BINDINGS = ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"];

async function loadNative(): Promise<boolean> {
  for (const specifier of NATIVE_BINDINGS) {
    try {
      // A variable specifier keeps bundlers and tsc from requiring the module to exist.
      await import(/* @vite-ignore */ specifier);
      if (tf.engine().registryFactory.tensorflow) return true;
    } catch {
      // not installed (the usual case): fall through
    }
  }
  return false;
}

/**
 * Select and initialise a backend; returns its name.
 * - preferred "tensorflow": tfjs-node-gpu/tfjs-node, falling back to wasm when neither is installed.
 * - preferred "wasm" / "cpu": exactly that.
 * - no preference: tfjs-node(-gpu) when installed, else wasm.
 * wasm runs single-threaded in Node (the multi-thread flag breaks init).
 */
export async function initBackend(preferred?: BackendName): Promise<string> {
  const wanted = preferred ?? "auto";
  if (wanted === "tensorflow" || wanted === "auto") {
    if (await loadNative()) {
      await tf.setBackend("tensorflow");
      await tf.ready();
      return tf.getBackend();
    }
  }
  const name = wanted === "cpu" ? "cpu" : "wasm";
  if (tf.getBackend() !== name) {
    const ok = await tf.setBackend(name);
    if (!ok) throw new Error(`tfjs backend "${name}" failed to initialise`);
  }
  await tf.ready();
  if (name === "wasm") shareDataOnWasm();
  return tf.getBackend();
}

let shared = false;
/**
 * Make tfjs-wasm's Identity, and Cast to the same dtype, share the input's data (a reference count,
 * as its Reshape already does and as the cpu backend's Identity does) instead of copying it. tfjs
 * clones every tensor a gradient saves for the backward through Identity, ~100 copies of [N, d]
 * arrays per d64 training step; tensors are immutable, so sharing gives the same values.
 */
export function shareDataOnWasm(): void {
  if (shared) return;
  shared = true;
  for (const kernelName of [tf.Identity, tf.Cast]) {
    const kernel = tf.getKernel(kernelName, "wasm");
    if (!kernel) continue;
    const copying = kernel.kernelFunc;
    tf.unregisterKernel(kernelName, "wasm");
    tf.registerKernel({
      ...kernel,
      kernelFunc: (args) => {
        const x = args.inputs.x as tf.TensorInfo;
        const dtype = kernelName === tf.Cast ? (args.attrs as { dtype: tf.DataType }).dtype : x.dtype;
        if (x.dtype === "string" || dtype !== x.dtype) return copying(args);
        (args.backend as { incRef(dataId: tf.DataId): void }).incRef(x.dataId);
        return { dataId: x.dataId, shape: x.shape, dtype };
      },
    });
  }
}
