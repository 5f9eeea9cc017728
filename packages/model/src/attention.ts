// Causal multi-head self-attention core: qkv [N, 3A] (q heads | k heads | v heads, each head dHead
// wide, N = batchSize·seqLen rows) → y [N, A]. Per (batch row b, head h), with s = attention scale:
//   S = (Q·s)·Kᵀ + mask   [T, T]      P = softmax(S)      Y = P·V   [T, dHead]
// Two implementations with the same maths:
// - attentionJs (wasm/cpu): one customGrad per layer. Per-(b, h) pieces are cut out of and written
//   back into plain Float32Arrays in JS, already in the layout each 2-D matmul wants (Kᵀ, Vᵀ, …),
//   because tfjs-wasm's Slice/Split/Concat/Transpose kernels cost ~0.25 ms per call. The backward is
//   written out by hand, with the softmax backward in JS:
//     dP = dY·Vᵀ,  r = rowsum(P⊙dP) = rowsum(dY⊙Y),  dS = P⊙(dP − r),
//     dQ = dS·(K·s),  dK = dSᵀ·(Q·s),  dV = Pᵀ·dY.
//   Every matmul's right operand is a [T, dHead] or [dHead, T] block: on tfjs-wasm a [dHead, T]·[T, T]
//   product (the earlier dYᵀ·P) measured ~2× slower than [T, T]·[T, dHead] at T = 128, dHead = 32.
// - attentionOps (any backend, e.g. tfjs-node): the same with tf.split/concat and autodiff.
import * as tf from "@tensorflow/tfjs";
import { readInto } from "./backend.ts";
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

/** dst[dstAt + r·dstStride + c] = src[srcAt + r·srcStride + c]·factor for a rows × cols block. */
function copyBlock(
  dst: Float32Array,
  dstAt: number,
  dstStride: number,
  src: Float32Array,
  srcAt: number,
  srcStride: number,
  rows: number,
  cols: number,
  factor: number,
): void {
  for (let r = 0; r < rows; r++) {
    const to = dstAt + r * dstStride;
    const at = srcAt + r * srcStride;
    for (let c = 0; c < cols; c++) dst[to + c] = (src[at + c] as number) * factor;
  }
}

/** rows × cols block of src (row stride `stride`) at (row0, col0), times factor → out [rows, cols]. */
function cutBlock(
  out: Float32Array,
  src: Float32Array,
  stride: number,
  row0: number,
  col0: number,
  rows: number,
  cols: number,
  factor: number,
): Float32Array {
  copyBlock(out, 0, cols, src, row0 * stride + col0, stride, rows, cols, factor);
  return out;
}

/** The same block transposed → out [cols, rows]. */
function cutBlockT(
  out: Float32Array,
  src: Float32Array,
  stride: number,
  row0: number,
  col0: number,
  rows: number,
  cols: number,
): Float32Array {
  for (let r = 0; r < rows; r++) {
    const at = (row0 + r) * stride + col0;
    for (let c = 0; c < cols; c++) out[c * rows + r] = src[at + c] as number;
  }
  return out;
}

/** Write block [rows, cols] into dst (row stride `stride`) at (row0, col0): plain loops, where a
 * subarray per row allocated a view object each (garbage at ~1000 rows a head). */
function pasteBlock(
  dst: Float32Array,
  stride: number,
  row0: number,
  col0: number,
  rows: number,
  cols: number,
  block: Float32Array,
): void {
  copyBlock(dst, row0 * stride + col0, stride, block, 0, cols, rows, cols, 1);
}

/**
 * Softmax backward of one causal [T, T] block in JS: dS = P⊙(dP − r) into ds and its transpose into
 * dsT, with r_i = Σ_d dY_id·Y_id (= rowsum(P⊙dP)). Only j ≤ i is written: above the diagonal P is
 * 0, and ds/dsT hold 0 there from their allocation.
 */
function softmaxBackward(
  ds: Float32Array,
  dsT: Float32Array,
  p: Float32Array,
  dp: Float32Array,
  dy: Float32Array,
  y: Float32Array,
  T: number,
  D: number,
): void {
  for (let i = 0; i < T; i++) {
    let r = 0;
    for (let d = 0; d < D; d++) r += (dy[i * D + d] as number) * (y[i * D + d] as number);
    const row = i * T;
    for (let j = 0; j <= i; j++) {
      const v = (p[row + j] as number) * ((dp[row + j] as number) - r);
      ds[row + j] = v;
      dsT[j * T + i] = v;
    }
  }
}

/** Causal [T, T] p → its transpose in out (only j ≤ i of p is nonzero; out holds 0 elsewhere). */
function transposeCausal(out: Float32Array, p: Float32Array, T: number): Float32Array {
  for (let i = 0; i < T; i++) for (let j = 0; j <= i; j++) out[j * T + i] = p[i * T + j] as number;
  return out;
}

export function attentionJs(qkv: tf.Tensor2D, causalMask: tf.Tensor2D, shape: AttentionShape): tf.Tensor2D {
  const { batchSize: B, seqLen: T, nHeads: H, dHead: D, scale } = shape;
  const A = H * D;
  const W = 3 * A; // qkv row stride
  const N = B * T;
  let data = new Float32Array(0) as Float32Array<ArrayBufferLike>; // qkv values, kept in JS for the backward
  let y = new Float32Array(0) as Float32Array<ArrayBufferLike>; // output values, kept for the backward (r = rowsum(dY⊙Y))

  // Scratch blocks. tfjs-wasm copies a new tensor's values into its heap, so on wasm one set serves
  // every (b, h) (allocating typed arrays costs more than filling them); other backends may keep a
  // reference to the values, so there each block is new.
  const reuse = tf.getBackend() === "wasm";
  const scratch = (size: number) => {
    const buf = new Float32Array(size);
    return () => (reuse ? buf : new Float32Array(size));
  };
  const [qBuf, kBuf, vBuf] = [scratch(T * D), scratch(T * D), scratch(T * D)];
  const [dyBuf, yBuf] = [scratch(T * D), scratch(T * D)];
  const [dsBuf, dsTBuf, pTBuf] = [scratch(T * T), scratch(T * T), scratch(T * T)];
  const [pBuf, dPBuf, outBuf] = [scratch(T * T), scratch(T * T), scratch(T * D)]; // matmul results read back

  const attend = tf.customGrad(((x: tf.Tensor2D, save: Save) => {
    data = x.dataSync() as Float32Array;
    y = new Float32Array(N * A);
    const probs: tf.Tensor2D[] = [];
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        const p = tf.tidy(() => {
          const q = tf.tensor2d(cutBlock(qBuf(), data, W, b * T, h * D, T, D, scale), [T, D]); // Q·s  [T, D]
          const kT = tf.tensor2d(cutBlockT(kBuf(), data, W, b * T, A + h * D, T, D), [D, T]); // Kᵀ   [D, T]
          const v = tf.tensor2d(cutBlock(vBuf(), data, W, b * T, 2 * A + h * D, T, D, 1), [T, D]); // V    [T, D]
          const p = tf.softmax(tf.matMul(q, kT).add(causalMask), -1) as tf.Tensor2D; // P [T, T]
          pasteBlock(y, A, b * T, h * D, T, D, readInto(outBuf(), tf.matMul(p, v))); // Y = P·V [T, D]
          return p; // survives this tidy; saved for the backward, freed with the step's scope
        });
        probs.push(p);
      }
    }
    save(probs);
    return {
      value: tf.tensor2d(y, [N, A]),
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const dyData = dy.dataSync() as Float32Array;
        const dx = new Float32Array(N * W);
        for (let b = 0; b < B; b++) {
          for (let h = 0; h < H; h++) {
            const pData = readInto(pBuf(), saved[b * H + h] as tf.Tensor2D); // P [T, T]
            tf.tidy(() => {
              const dyh = cutBlock(dyBuf(), dyData, A, b * T, h * D, T, D, 1); // dY [T, D]
              const dyT = tf.tensor2d(dyh, [T, D]);
              const vT = tf.tensor2d(cutBlockT(vBuf(), data, W, b * T, 2 * A + h * D, T, D), [D, T]); // Vᵀ
              const dP = readInto(dPBuf(), tf.matMul(dyT, vT)); // dP = dY·Vᵀ [T, T]
              const ds = dsBuf();
              const dsT = dsTBuf();
              softmaxBackward(ds, dsT, pData, dP, dyh, cutBlock(yBuf(), y, A, b * T, h * D, T, D, 1), T, D);
              const ks = tf.tensor2d(cutBlock(kBuf(), data, W, b * T, A + h * D, T, D, scale), [T, D]); // K·s
              const qs = tf.tensor2d(cutBlock(qBuf(), data, W, b * T, h * D, T, D, scale), [T, D]); // Q·s
              const pT = tf.tensor2d(transposeCausal(pTBuf(), pData, T), [T, T]); // Pᵀ
              const dQ = tf.matMul(tf.tensor2d(ds, [T, T]), ks); // dQ = dS·(K·s)
              pasteBlock(dx, W, b * T, h * D, T, D, readInto(outBuf(), dQ));
              const dK = tf.matMul(tf.tensor2d(dsT, [T, T]), qs); // dK = dSᵀ·(Q·s)
              pasteBlock(dx, W, b * T, A + h * D, T, D, readInto(outBuf(), dK));
              const dV = tf.matMul(pT, dyT); // dV = Pᵀ·dY
              pasteBlock(dx, W, b * T, 2 * A + h * D, T, D, readInto(outBuf(), dV));
            });
          }
        }
        return tf.tensor2d(dx, [N, W]);
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return attend(qkv) as tf.Tensor2D;
}
