// A decoder-only transformer LM, read top to bottom like nanoGPT's model.py, with μP as used by
// the Power Scheduler paper (2408.13359, Table 1, following Cerebras-GPT):
//   m_width = dModel / baseWidth                                  (widthMultiplier)
//   embedding output × embMultiplier                               (m_emb)
//   attention / MLP output × residualMultiplier before the add     (m_res)
//   hidden matrices init std initStd/√m_width, lr η/m_width        (internal weights only)
//   attention logits q·k / dHead (not √dHead)
//   output logits × 1/m_width, so they stay O(1) as width grows (μP readout)
// Token embedding + learned positional embedding [seqLen, dModel]; untied output head.
// parametrization "standard" switches all of the width scaling off (1/√dHead, std initStd
// everywhere, one lr) and exists so the coord check can show SP failing.
//
// N = batchSize·seqLen rows, d = dModel, A = nHeads·dHead (attention width), F = mlpHidden.
import type { ModelShape, Mup } from "@powersweep/spec";
import * as tf from "@tensorflow/tfjs";
import { causalAttention } from "./attention.ts";
import { embeddingLookup, matMul, meanCrossEntropy, rmsNorm, swiGlu, tokenCrossEntropy } from "./ops.ts";

export type Parametrization = "mup" | "standard";

export interface GPTConfig extends ModelShape, Mup {
  vocabSize: number;
  seqLen: number;
  /** Default "mup". */
  parametrization?: Parametrization;
}

/** m_width = dModel / baseWidth (Table 1). */
export function widthMultiplier(config: GPTConfig): number {
  return config.dModel / config.baseWidth;
}

/** A parameter group: everything AdamW needs to treat these variables alike. */
export interface ParamGroup {
  name: "hidden" | "other";
  /** Parameter names in this group (keys of GPT.params). */
  params: string[];
  /** lr multiplier applied to the schedule's η: 1/m_width for μP hidden matrices, else 1. */
  lrScale: number;
  /** Whether decoupled weight decay applies (hidden matrices only). */
  weightDecay: boolean;
}

export interface GPT {
  config: GPTConfig;
  /** Named parameters, in a fixed order (checkpoints rely on these names). */
  params: Map<string, tf.Variable>;
  groups: ParamGroup[];
  /** Logits [N, V] for int32 ids [N] laid out as batchSize rows of seqLen. */
  forward(ids: tf.Tensor1D, batchSize: number, record?: ActivationRecorder): tf.Tensor2D;
  /** Mean next-token cross-entropy (scalar). */
  loss(ids: tf.Tensor1D, targets: tf.Tensor1D, batchSize: number): tf.Scalar;
  /** Per-token cross-entropy [N] (no gradient use). */
  tokenLosses(ids: tf.Tensor1D, targets: tf.Tensor1D, batchSize: number): tf.Tensor1D;
  dispose(): void;
}

/** Called with named intermediate activations (coord check). Must not keep the tensors. */
export type ActivationRecorder = (name: string, activation: tf.Tensor) => void;

/** Shape checks that do not depend on data. Returns a list of problems (empty when fine). */
export function validateGPTConfig(config: GPTConfig): string[] {
  const problems: string[] = [];
  const ints: (keyof GPTConfig)[] = [
    "dModel",
    "nLayers",
    "nHeads",
    "dHead",
    "mlpHidden",
    "baseWidth",
    "vocabSize",
    "seqLen",
  ];
  for (const key of ints) {
    const v = config[key];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1)
      problems.push(`${key} must be a positive integer (got ${String(v)})`);
  }
  for (const key of ["embMultiplier", "residualMultiplier", "initStd"] as const) {
    if (!(config[key] > 0) || !Number.isFinite(config[key])) problems.push(`${key} must be a positive number`);
  }
  return problems;
}

export function createGPT(config: GPTConfig, seed: number): GPT {
  const problems = validateGPTConfig(config);
  if (problems.length > 0) throw new Error(`invalid model config: ${problems.join("; ")}`);
  const { dModel: d, nLayers, nHeads, dHead, mlpHidden: F, vocabSize: V, seqLen: T } = config;
  const A = nHeads * dHead;
  const mup = (config.parametrization ?? "mup") === "mup";
  const mWidth = widthMultiplier(config);
  const { embMultiplier, residualMultiplier, initStd } = config;

  // ---- init: seeded, one seed per parameter so the order of creation fixes every value ----
  const hiddenStd = mup ? initStd / Math.sqrt(mWidth) : initStd; // Table 1
  const params = new Map<string, tf.Variable>();
  let nextSeed = seed * 1009 + 1;
  // tidy frees the initial values; variables survive it
  const normal = (name: string, shape: number[], std: number) =>
    params.set(
      name,
      tf.tidy(() => tf.variable(tf.randomNormal(shape, 0, std, "float32", nextSeed++))),
    );
  const ones = (name: string, shape: number[]) =>
    params.set(
      name,
      tf.tidy(() => tf.variable(tf.ones(shape))),
    );

  normal("wte", [V, d], initStd); // input embedding: not a hidden matrix
  normal("wpe", [T, d], initStd); // learned positions: embedding-like
  for (let l = 0; l < nLayers; l++) {
    ones(`h${l}.attnNorm`, [d]);
    normal(`h${l}.wqkv`, [d, 3 * A], hiddenStd); // fused q|k|v
    normal(`h${l}.wo`, [A, d], hiddenStd);
    ones(`h${l}.mlpNorm`, [d]);
    normal(`h${l}.w13`, [d, 2 * F], hiddenStd); // fused SwiGLU gate|up
    normal(`h${l}.w2`, [F, d], hiddenStd);
  }
  ones("normF", [d]);
  normal("head", [d, V], initStd); // output embedding: not a hidden matrix

  const isHidden = (name: string) => /\.(wqkv|wo|w13|w2)$/.test(name);
  const names = [...params.keys()];
  const groups: ParamGroup[] = [
    // hidden matrices: lr η/m_width under μP (Table 1), decoupled weight decay
    { name: "hidden", params: names.filter(isHidden), lrScale: mup ? 1 / mWidth : 1, weightDecay: true },
    // embeddings, positions, norm gains, output head: lr η, no weight decay
    { name: "other", params: names.filter((n) => !isHidden(n)), lrScale: 1, weightDecay: false },
  ];
  const p = (name: string) => params.get(name) as tf.Variable as unknown as tf.Tensor2D;
  const g = (name: string) => params.get(name) as tf.Variable as unknown as tf.Tensor1D;

  // causal mask [T, T]: 0 on and below the diagonal, −1e9 above
  const causalMask = tf.tidy(
    () =>
      tf.linalg
        .bandPart(tf.ones([T, T]), -1, 0)
        .sub(1)
        .mul(1e9) as tf.Tensor2D,
  );
  const attnScale = mup ? 1 / dHead : 1 / Math.sqrt(dHead); // μP: q·k / dHead
  const logitScale = mup ? 1 / mWidth : 1; // μP readout: logits × 1/m_width

  /** Causal self-attention, h [N, d] → [N, d] (before × residualMultiplier). */
  function attention(h: tf.Tensor2D, l: number, batchSize: number): tf.Tensor2D {
    const qkv = matMul(h, p(`h${l}.wqkv`)); // [N, 3A]: q heads | k heads | v heads
    const y = causalAttention(qkv, causalMask, { batchSize, seqLen: T, nHeads, dHead, scale: attnScale }); // [N, A]
    return matMul(y, p(`h${l}.wo`)); // [N, d]
  }

  /** SwiGLU MLP, h [N, d] → [N, d] (before × residualMultiplier). */
  function mlp(h: tf.Tensor2D, l: number): tf.Tensor2D {
    return matMul(swiGlu(h, p(`h${l}.w13`)), p(`h${l}.w2`)); // silu(h·W1)·(h·W3) [N, F] → [N, d]
  }

  function forward(ids: tf.Tensor1D, batchSize: number, record?: ActivationRecorder): tf.Tensor2D {
    const N = ids.shape[0];
    if (N !== batchSize * T) throw new Error(`forward: ${N} ids is not batchSize ${batchSize} × seqLen ${T}`);
    const tok = embeddingLookup(p("wte"), ids); // [N, d]
    let x = tok
      .reshape([batchSize, T, d])
      .add(p("wpe")) // [B, T, d]
      .reshape([N, d])
      .mul(embMultiplier) as tf.Tensor2D; // × m_emb (Table 1)
    record?.("embedding", x);
    for (let l = 0; l < nLayers; l++) {
      const a = attention(rmsNorm(x, g(`h${l}.attnNorm`)), l, batchSize).mul(residualMultiplier) as tf.Tensor2D; // × m_res
      record?.(`h${l}.attn`, a);
      x = x.add(a);
      const m = mlp(rmsNorm(x, g(`h${l}.mlpNorm`)), l).mul(residualMultiplier) as tf.Tensor2D; // × m_res
      record?.(`h${l}.mlp`, m);
      x = x.add(m);
      record?.(`h${l}.residual`, x);
    }
    // × 1/m_width folded into the [N, d] input of the head (same result, d instead of V columns)
    const xf = rmsNorm(x, g("normF"));
    const logits = matMul(logitScale === 1 ? xf : (xf.mul(logitScale) as tf.Tensor2D), p("head")); // [N, V]
    record?.("logits", logits);
    return logits;
  }

  return {
    config,
    params,
    groups,
    forward,
    loss: (ids, targets, batchSize) => meanCrossEntropy(forward(ids, batchSize), targets),
    tokenLosses: (ids, targets, batchSize) => tokenCrossEntropy(forward(ids, batchSize), targets),
    dispose() {
      for (const v of params.values()) v.dispose();
      causalMask.dispose();
    },
  };
}
