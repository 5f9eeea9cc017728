// Backend selection. tfjs-wasm is the default (measured fastest that installs everywhere, see
// docs/environment.md); @tensorflow/tfjs-node(-gpu) are optional accelerators, loaded only when present.
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
  if (name === "wasm") tuneWasmKernels();
  return tf.getBackend();
}

let tuned = false;
/**
 * Replace tfjs-wasm kernels that cost training steps far more than they need to, process-wide, for
 * this thread's wasm backend (once; the gradient worker thread calls it for its own). Same values.
 */
export function tuneWasmKernels(): void {
  if (tuned) return;
  tuned = true;
  shareDataOnWasm();
  transposeMatricesInJs();
  sumLeadingAxesInJs();
}

/**
 * Make tfjs-wasm's Identity, and Cast to the same dtype, share the input's data (a reference count,
 * as its Reshape already does and as the cpu backend's Identity does) instead of copying it. tfjs
 * clones every tensor a gradient saves for the backward through Identity, ~100 copies of [N, d]
 * arrays per d64 training step; tensors are immutable, so sharing gives the same values.
 */
function shareDataOnWasm(): void {
  for (const kernelName of [tf.Identity, tf.Cast]) {
    overrideWasmKernel(kernelName, (args, copying) => {
      const x = args.inputs.x as tf.TensorInfo;
      const dtype = kernelName === tf.Cast ? (args.attrs as { dtype: tf.DataType }).dtype : x.dtype;
      if (x.dtype === "string" || dtype !== x.dtype) return copying(args);
      (args.backend as { incRef(dataId: tf.DataId): void }).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype };
    });
  }
}

/** Replace this thread's wasm kernel `name`; `tuned` gets its arguments and the original kernel. */
function overrideWasmKernel(
  name: string,
  tuned: (args: Parameters<tf.KernelFunc>[0], generic: tf.KernelFunc) => ReturnType<tf.KernelFunc>,
): void {
  const kernel = tf.getKernel(name, "wasm");
  if (!kernel) return;
  const generic = kernel.kernelFunc;
  tf.unregisterKernel(name, "wasm");
  tf.registerKernel({ ...kernel, kernelFunc: (args) => tuned(args, generic) });
}

/**
 * A float32 tensor's values copied into out, which is returned. On wasm straight from the heap: no
 * new array per read (dataSync allocates one; the attention reads ~10 small blocks per head and
 * batch row each step, which kept the garbage collector busy).
 */
export function readInto(out: Float32Array, t: tf.Tensor): Float32Array {
  const backend = tf.backend() as Partial<WasmHeap>;
  out.set(tf.getBackend() === "wasm" && backend.typedArrayFromHeap ? backend.typedArrayFromHeap(t) : t.dataSync());
  return out;
}

interface WasmHeap {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
}

/**
 * Transpose float32 matrices ([r, c] → [c, r], after dropping size-1 dimensions) in JS, straight
 * between views of the wasm heap. tfjs-wasm's generic Transpose writes one output column per input
 * row, 4 KiB apart for r = 1024: cache-set conflicts made [1024, 64] take ~0.9 ms and [1024, 192]
 * ~2.7 ms, and the matmul backwards transpose their [N, d] inputs once per weight gradient. Eight
 * input rows at a time fill runs of eight consecutive outputs: ~13× faster, the same bits.
 */
function transposeMatricesInJs(): void {
  overrideWasmKernel(tf.Transpose, (args, generic) => {
    const x = args.inputs.x as tf.TensorInfo;
    const perm = (args.attrs as unknown as tf.TransposeAttrs).perm;
    const dims = x.shape.map((size, axis) => ({ size, axis })).filter((d) => d.size !== 1);
    // a matrix whose two non-trivial axes swap places; everything else keeps the generic kernel
    const swaps = dims.length === 2 && perm.indexOf(dims[0]?.axis as number) > perm.indexOf(dims[1]?.axis as number);
    if (x.dtype !== "float32" || !swaps) return generic(args);
    const heap = args.backend as unknown as WasmHeap;
    const [r, c] = [dims[0]?.size as number, dims[1]?.size as number];
    const out = heap.makeOutput(
      perm.map((axis) => x.shape[axis] as number),
      "float32",
    ); // [c, r] up to size-1 axes
    transposeInto(heap.typedArrayFromHeap(out), heap.typedArrayFromHeap(x), r, c);
    return out;
  });
}

/**
 * Sum float32 tensors over their leading axes ([r, c] → [c]: a RMSNorm gain's or a broadcast add's
 * gradient) in JS, row after row into the output. tfjs-wasm transposes the input first so that the
 * reduced axes are innermost (~1.3 ms for [1024, 128] with its Transpose); same order of additions.
 */
function sumLeadingAxesInJs(): void {
  overrideWasmKernel(tf.Sum, (args, generic) => {
    const x = args.inputs.x as tf.TensorInfo;
    const { axis, keepDims } = args.attrs as unknown as tf.SumAttrs;
    const rank = x.shape.length;
    const axes = [...new Set((Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + rank : a)))].sort();
    const leading = axes.length > 0 && axes.length < rank && axes.every((a, k) => a === k);
    if (x.dtype !== "float32" || !leading) return generic(args);
    const heap = args.backend as unknown as WasmHeap;
    const inner = x.shape.slice(axes.length);
    const out = heap.makeOutput(keepDims ? [...axes.map(() => 1), ...inner] : inner, "float32");
    const dst = heap.typedArrayFromHeap(out);
    const src = heap.typedArrayFromHeap(x);
    const c = dst.length;
    dst.fill(0);
    for (let at = 0; at < src.length; at += c)
      for (let j = 0; j < c; j++) dst[j] = (dst[j] as number) + (src[at + j] as number);
    return out;
  });
}

/** dst[j·r + i] = src[i·c + j] for an [r, c] row-major src. */
function transposeInto(dst: Float32Array, src: Float32Array, r: number, c: number): Float32Array {
  let i = 0;
  for (; i + 8 <= r; i += 8) {
    for (let j = 0, s = i * c; j < c; j++, s++) {
      const o = j * r + i;
      dst[o] = src[s] as number;
      dst[o + 1] = src[s + c] as number;
      dst[o + 2] = src[s + 2 * c] as number;
      dst[o + 3] = src[s + 3 * c] as number;
      dst[o + 4] = src[s + 4 * c] as number;
      dst[o + 5] = src[s + 5 * c] as number;
      dst[o + 6] = src[s + 6 * c] as number;
      dst[o + 7] = src[s + 7 * c] as number;
    }
  }
  for (; i < r; i++) for (let j = 0; j < c; j++) dst[j * r + i] = src[i * c + j] as number;
  return dst;
}
