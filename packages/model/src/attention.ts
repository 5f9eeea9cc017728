// Causal multi-head self-attention core: qkv [N, 3A] (q heads | k heads | v heads, each head dHead
// wide, N = batchSize·seqLen rows) → y [N, A]. Per (batch row b, head h), with s = attention scale:
//   S = (Q·s)·Kᵀ + mask   [T, T]      P = softmax(S)      Y = P·V   [T, dHead]
// Two implementations with the same maths:
// - attentionJs (wasm/cpu): one customGrad per layer. Per-(b, h) pieces are cut out of and written
//   back into plain Float32Arrays in JS, already in the layout each 2-D matmul wants (Kᵀ, Vᵀ, …),
//   because tfjs-wasm's Slice/Split/Concat/Transpose kernels cost ~0.25 ms per call. The backward is
//   written out by hand:  dVᵀ = dYᵀ·P,  dP = dY·Vᵀ,  dS = P⊙(dP − rowsum(P⊙dP)),
//                         dQ = s·dS·K,  dKᵀ = (Q·s)ᵀ·dS.
// - attentionOps (any backend, e.g. tfjs-node): the same with tf.split/concat and autodiff.
import * as tf from "@tensorflow/tfjs";
import { isJsBackend, matMul } from "./ops.ts";

export interface AttentionShape {
  batchSize: number;
  seqLen: number;
  nHeads: number;
  dHead: number;
  /** Multiplies q·k: 1/dHead under μP, 1/√dHead under SP. */
  scale: number;
}

export function causalAttention(qkv: tf.Tensor2D, causalMask: tf.Tensor2D, shape: AttentionShape): tf.Tensor2D {
  return isJsBackend() ? attentionJs(qkv, causalMask, shape) : attentionOps(qkv, causalMask, shape);
}

export function attentionOps(qkv: tf.Tensor2D, causalMask: tf.Tensor2D, shape: AttentionShape): tf.Tensor2D {
  const { batchSize, nHeads, scale } = shape;
  const rows = batchSize > 1 ? tf.split(qkv, batchSize, 0) : [qkv]; // batchSize × [T, 3A]
  const ys = rows.map((row) => {
    const c = tf.split(row, 3 * nHeads, 1) as tf.Tensor2D[]; // q heads | k heads | v heads, each [T, dHead]
    const heads: tf.Tensor2D[] = [];
    for (let h = 0; h < nHeads; h++) {
      const q = (c[h] as tf.Tensor2D).mul(scale) as tf.Tensor2D; // scale q, not the [T, T] scores
      const scores = matMul(q, tf.transpose(c[nHeads + h] as tf.Tensor2D)).add(causalMask) as tf.Tensor2D; // [T, T]
      heads.push(matMul(tf.softmax(scores, -1), c[2 * nHeads + h] as tf.Tensor2D)); // [T, dHead]
    }
    return nHeads > 1 ? tf.concat(heads, 1) : (heads[0] as tf.Tensor2D); // [T, A]
  });
  return batchSize > 1 ? tf.concat(ys, 0) : (ys[0] as tf.Tensor2D); // [N, A]
}

type Save = (tensors: tf.Tensor[]) => void;

export function attentionJs(qkv: tf.Tensor2D, causalMask: tf.Tensor2D, shape: AttentionShape): tf.Tensor2D {
  const { batchSize: B, seqLen: T, nHeads: H, dHead: D, scale } = shape;
  const A = H * D;
  const W = 3 * A; // qkv row stride
  const N = B * T;
  let data = new Float32Array(0) as Float32Array<ArrayBufferLike>; // qkv values, kept in JS for the backward

  /** Copy head h's block of section (0 q, 1 k, 2 v) for batch row b out of src (row stride W). */
  const block = (b: number, section: number, h: number, transposed: boolean, factor = 1): tf.Tensor2D => {
    const out = new Float32Array(T * D);
    const col0 = section * A + h * D;
    for (let t = 0; t < T; t++) {
      const at = (b * T + t) * W + col0;
      if (transposed) for (let j = 0; j < D; j++) out[j * T + t] = (data[at + j] as number) * factor;
      else for (let j = 0; j < D; j++) out[t * D + j] = (data[at + j] as number) * factor;
    }
    return tf.tensor2d(out, transposed ? [D, T] : [T, D]);
  };

  const attend = tf.customGrad(((x: tf.Tensor2D, save: Save) => {
    data = x.dataSync() as Float32Array;
    const y = new Float32Array(N * A);
    const probs: tf.Tensor2D[] = [];
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        // (typed arrays leave tidy through closures: tidy walks a returned array key by key)
        let yh = new Float32Array(0) as Float32Array<ArrayBufferLike>;
        const p = tf.tidy(() => {
          const q = block(b, 0, h, false, scale); // Q·s  [T, D]
          const kT = block(b, 1, h, true); // Kᵀ   [D, T]
          const v = block(b, 2, h, false); // V    [T, D]
          const p = tf.softmax(tf.matMul(q, kT).add(causalMask), -1) as tf.Tensor2D; // P [T, T]
          yh = tf.matMul(p, v).dataSync() as Float32Array; // Y = P·V [T, D]
          return p; // survives this tidy; saved for the backward, freed with the step's scope
        });
        probs.push(p);
        for (let t = 0; t < T; t++) y.set(yh.subarray(t * D, (t + 1) * D), (b * T + t) * A + h * D);
      }
    }
    save(probs);
    return {
      value: tf.tensor2d(y, [N, A]),
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const dyData = dy.dataSync() as Float32Array;
        const dx = new Float32Array(N * W);
        const dyBlock = (b: number, h: number, transposed: boolean): tf.Tensor2D => {
          const out = new Float32Array(T * D);
          for (let t = 0; t < T; t++) {
            const at = (b * T + t) * A + h * D;
            if (transposed) for (let j = 0; j < D; j++) out[j * T + t] = dyData[at + j] as number;
            else out.set(dyData.subarray(at, at + D), t * D);
          }
          return tf.tensor2d(out, transposed ? [D, T] : [T, D]);
        };
        for (let b = 0; b < B; b++) {
          for (let h = 0; h < H; h++) {
            const p = saved[b * H + h] as tf.Tensor2D;
            let dQ = new Float32Array(0) as Float32Array<ArrayBufferLike>;
            let dKT = dQ;
            let dVT = dQ;
            tf.tidy(() => {
              dVT = tf.matMul(dyBlock(b, h, true), p).dataSync() as Float32Array; // dVᵀ = dYᵀ·P   [D, T]
              const dP = tf.matMul(dyBlock(b, h, false), block(b, 2, h, true)); // dP = dY·Vᵀ   [T, T]
              const dS = p.mul(dP.sub(p.mul(dP).sum(-1, true))) as tf.Tensor2D; // softmax backward
              dQ = tf.matMul(dS, block(b, 1, h, false)).dataSync() as Float32Array; // dS·K   [T, D] (× s below)
              dKT = tf.matMul(block(b, 0, h, true, scale), dS).dataSync() as Float32Array; // (Q·s)ᵀ·dS = dKᵀ   [D, T]
            });
            for (let t = 0; t < T; t++) {
              const at = (b * T + t) * W + h * D;
              for (let j = 0; j < D; j++) {
                dx[at + j] = (dQ[t * D + j] as number) * scale;
                dx[at + A + j] = dKT[j * T + t] as number;
                dx[at + 2 * A + j] = dVT[j * T + t] as number;
              }
            }
          }
        }
        return tf.tensor2d(dx, [N, W]);
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return attend(qkv) as tf.Tensor2D;
}
