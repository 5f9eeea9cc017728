// Ops written for speed on tfjs-wasm (docs/environment.md, "TensorFlow.js on wasm"):
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

/**
 * RMSNorm over the last axis: x / √(mean(x²) + ε) · gain. x [N, d], gain [d].
 * A customGrad with the backward written out (about half the kernels of autodiff):
 *   x̂ = x·r, r = 1/√(mean(x²) + ε):  d gain = Σ_n dy⊙x̂,  dx = r·(g − x̂·mean(g⊙x̂)), g = dy⊙gain.
 */
export function rmsNorm(x: tf.Tensor2D, gain: tf.Tensor1D, eps = 1e-6): tf.Tensor2D {
  return rmsNormGrad(eps)(x, gain) as tf.Tensor2D;
}

const rmsNormByEps = new Map<number, ReturnType<typeof tf.customGrad>>();
function rmsNormGrad(eps: number): ReturnType<typeof tf.customGrad> {
  let op = rmsNormByEps.get(eps);
  if (!op) {
    op = tf.customGrad(((x: tf.Tensor2D, gain: tf.Tensor1D, save: Save) => {
      const r = x.square().mean(-1, true).add(eps).rsqrt() as tf.Tensor2D; // [N, 1]
      const xHat = x.mul(r) as tf.Tensor2D; // [N, d]
      save([r, xHat, gain]);
      return {
        value: xHat.mul(gain),
        gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
          const [sr, sxHat, sgain] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
          const g = dy.mul(sgain); // [N, d]
          const dx = g.sub(sxHat.mul(g.mul(sxHat).mean(-1, true))).mul(sr);
          return [dx, dy.mul(sxHat).sum(0)];
        },
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0]);
    rmsNormByEps.set(eps, op);
  }
  return op;
}

/**
 * SwiGLU input side: silu(h·W1)⊙(h·W3) [N, F] for h [N, d] and w13 = [W1 | W3] [d, 2F] (one fused
 * parameter), silu(a) = a·σ(a). Gate and up are two matmuls against column slices of w13 rather than
 * one matmul and a split of its [N, 2F] output: tfjs-wasm's column split and concat of [N, 2F] cost
 * more than the two small weight slices. Backward written out, with g = h·W1, u = h·W3:
 *   du = dy⊙silu(g),  dg = dy⊙u⊙σ(g)·(1 + g·(1 − σ(g))) = dy⊙u⊙(σ + silu·(1 − σ)),
 *   dh = dg·W1ᵀ + du·W3ᵀ,  dw13 = [hᵀ·dg | hᵀ·du].
 */
export function swiGlu(h: tf.Tensor2D, w13: tf.Tensor2D): tf.Tensor2D {
  return swiGluGrad(h, w13) as tf.Tensor2D;
}

const swiGluGrad = tf.customGrad(((h: tf.Tensor2D, w13: tf.Tensor2D, save: Save) => {
  const [d, F2] = w13.shape;
  const F = F2 / 2;
  const w1 = tf.slice(w13, [0, 0], [d, F]) as tf.Tensor2D;
  const w3 = tf.slice(w13, [0, F], [d, F]) as tf.Tensor2D;
  const up = tf.matMul(h, w3); // [N, F]
  const gate = tf.matMul(h, w1); // [N, F]
  const sig = tf.sigmoid(gate);
  const silu = gate.mul(sig) as tf.Tensor2D;
  save([h, w1, w3, up, sig, silu]);
  return {
    value: silu.mul(up),
    gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
      const [sh, sw1, sw3, sUp, sSig, sSilu] = saved as tf.Tensor2D[];
      const dUp = dy.mul(sSilu as tf.Tensor2D) as tf.Tensor2D;
      const dGate = dy
        .mul(sUp as tf.Tensor2D)
        .mul(
          (sSig as tf.Tensor2D).add((sSilu as tf.Tensor2D).mul(tf.scalar(1).sub(sSig as tf.Tensor2D))),
        ) as tf.Tensor2D;
      // explicit transposes + plain 2-D matmuls (see matMulGrad)
      const dh = tf
        .matMul(dGate, tf.transpose(sw1 as tf.Tensor2D))
        .add(tf.matMul(dUp, tf.transpose(sw3 as tf.Tensor2D)));
      const hT = tf.transpose(sh as tf.Tensor2D);
      const dw13 = tf.concat([tf.matMul(hT, dGate), tf.matMul(hT, dUp)], 1);
      return [dh, dw13];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]);

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
