// Ops written for speed on tfjs-wasm (ENVIRONMENT.md, "TensorFlow.js (measured)"):
// - wasm matmul is fast (XNNPACK) only for plain 2-D matmuls without transpose flags, so every
//   matmul goes through a customGrad whose backward uses explicit transposes + plain matMul;
// - wasm has no UnsortedSegmentSum (the gradient of gather), so the embedding backward is a
//   one-hot matmul;
// - tf.oneHot(ids, V, 1, 0, "float32") returns integer bit patterns on wasm: cast instead.
import * as tf from "@tensorflow/tfjs";

type Save = (tensors: tf.Tensor[]) => void;

/** Float32 one-hot [N, V] of int32 ids [N]. Safe on wasm (see header). */
export function oneHotFloat(ids: tf.Tensor1D, depth: number): tf.Tensor2D {
  return tf.oneHot(ids, depth).cast("float32") as tf.Tensor2D;
}

const matMulGrad = tf.customGrad(((a: tf.Tensor2D, b: tf.Tensor2D, save: Save) => {
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    // d(a·b)/da = dy·bᵀ, d(a·b)/db = aᵀ·dy, with explicit transposes (no transpose flags)
    gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
      const [sa, sb] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy, tf.transpose(sb)), tf.matMul(tf.transpose(sa), dy)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]);

/** a [n, k] · b [k, m] → [n, m], with a wasm-fast backward. */
export function matMul(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return matMulGrad(a, b) as tf.Tensor2D;
}

/** Backends whose tensors live in JS-reachable memory, so dataSync is a cheap copy. */
export function isJsBackend(): boolean {
  const name = tf.getBackend();
  return name === "wasm" || name === "cpu";
}

/**
 * Rows of table [V, d] picked by ids [N] → [N, d]. The backward is a scatter-add of dy into the
 * picked rows (no UnsortedSegmentSum on wasm). On wasm/cpu both directions are plain JS loops over
 * N·d values (tfjs-wasm's Gather and the one-hot matmul + transpose cost ~10 ms a step at V = 256,
 * and the one-hot grows with V); elsewhere the backward is one-hotᵀ·dy.
 */
export function embeddingLookup(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  const [vocabSize, d] = table.shape;
  if (!isJsBackend()) {
    const lookup = tf.customGrad(((w: tf.Tensor2D) => ({
      value: tf.gather(w, ids),
      gradFunc: (dy: tf.Tensor2D) => tf.matMul(tf.transpose(oneHotFloat(ids, vocabSize)), dy),
    })) as unknown as Parameters<typeof tf.customGrad>[0]);
    return lookup(table) as tf.Tensor2D;
  }
  const idx = ids.dataSync() as Int32Array;
  const N = idx.length;
  for (const id of idx)
    if (id < 0 || id >= vocabSize) throw new Error(`token id ${id} outside the vocabulary [0, ${vocabSize})`);
  const lookup = tf.customGrad(((w: tf.Tensor2D) => {
    const rows = w.dataSync() as Float32Array;
    const out = new Float32Array(N * d);
    for (let n = 0; n < N; n++) {
      const id = idx[n] as number;
      out.set(rows.subarray(id * d, id * d + d), n * d);
    }
    return {
      value: tf.tensor2d(out, [N, d]),
      gradFunc: (dy: tf.Tensor2D) => {
        const g = dy.dataSync() as Float32Array;
        const dw = new Float32Array(vocabSize * d);
        for (let n = 0; n < N; n++) {
          const at = (idx[n] as number) * d;
          for (let j = 0; j < d; j++) dw[at + j] = (dw[at + j] as number) + (g[n * d + j] as number);
        }
        return tf.tensor2d(dw, [vocabSize, d]);
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return lookup(table) as tf.Tensor2D;
}

/** RMSNorm over the last axis: x / √(mean(x²) + ε) · gain. x [N, d], gain [d]. */
export function rmsNorm(x: tf.Tensor2D, gain: tf.Tensor1D, eps = 1e-6): tf.Tensor2D {
  return x.mul(x.square().mean(-1, true).add(eps).rsqrt()).mul(gain);
}

/** Per-token cross-entropy [N] of logits [N, V] against int32 targets [N] (for evaluation). */
export function tokenCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  const picked = logits.mul(oneHotFloat(targets, logits.shape[1])).sum(-1);
  return tf.logSumExp(logits, -1).sub(picked) as tf.Tensor1D;
}

/**
 * Mean cross-entropy (scalar) for training, from one native softmax (tfjs-wasm's Exp is ~6× slower
 * than its Softmax): loss = mean(−log p[target]), gradient (p − onehot)/N. p[target] is floored at
 * 1e-30, which caps one token's loss at 69 nats — only a diverging run gets there. Evaluation uses
 * the exact tokenCrossEntropy.
 */
export function meanCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Scalar {
  const [N, V] = logits.shape;
  const ce = tf.customGrad(((x: tf.Tensor2D, save: Save) => {
    const probs = tf.softmax(x, -1); // [N, V]
    const onehot = oneHotFloat(targets, V); // [N, V]
    save([probs, onehot]);
    const picked = probs.mul(onehot).sum(-1); // p[target]  [N]
    return {
      value: picked.maximum(1e-30).log().neg().mean(),
      gradFunc: (dy: tf.Scalar, saved: tf.Tensor[]) => {
        const [p, oh] = saved as [tf.Tensor2D, tf.Tensor2D];
        return p.sub(oh).mul(dy.div(N));
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return ce(logits) as tf.Scalar;
}
