// AdamW (decoupled weight decay) with per-group learning rates. The schedule supplies η each step;
// each group uses η·lrScale (μP: hidden matrices η/m_width, everything else η) and hidden matrices
// also decay: p ← p·(1 − η·weightDecay) − η_group·m̂/(√v̂ + ε).
// The decay uses the schedule's η, not η_group: as microsoft/mup's MuAdamW (which divides a hidden
// matrix's lr by the width multiplier and multiplies its weight_decay by it), the per-step decay
// η·λ is independent of width, so a weight decay tuned on a proxy transfers (docs/weight-decay.md).
import type { Optimizer } from "@powersweep/spec";
import * as tf from "@tensorflow/tfjs";
import { shardCount, startShard } from "./data-parallel.ts";
import type { GPT } from "./gpt.ts";

export interface AdamW {
  /** Number of updates applied so far (the bias-correction step t). */
  readonly t: number;
  /** First/second moments by parameter name (checkpoints). */
  readonly moments: Map<string, { m: tf.Variable; v: tf.Variable }>;
  /** Apply one update with schedule lr η; grads keyed by the variables' names (tf.variableGrads). */
  step(grads: tf.NamedTensorMap, lr: number): void;
  /** Restore the step count (after loading moments from a checkpoint). */
  setStep(t: number): void;
  dispose(): void;
}

export function createAdamW(model: GPT, options: Optimizer): AdamW {
  const { beta1, beta2, eps, weightDecay } = options;
  const moments = new Map<string, { m: tf.Variable; v: tf.Variable }>();
  for (const [name, p] of model.params) {
    moments.set(
      name,
      tf.tidy(() => ({ m: tf.variable(tf.zerosLike(p), false), v: tf.variable(tf.zerosLike(p), false) })),
    );
  }
  let t = 0;
  return {
    get t() {
      return t;
    },
    moments,
    step(grads, lr) {
      t++;
      const bc1 = 1 - beta1 ** t;
      const bc2 = 1 - beta2 ** t;
      tf.tidy(() => {
        for (const group of model.groups) {
          const groupLr = lr * group.lrScale;
          const decay = group.weightDecay ? 1 - lr * weightDecay : 1; // = 1 − η_group·(λ/lrScale), width-independent
          for (const name of group.params) {
            const p = model.params.get(name) as tf.Variable;
            const grad = grads[p.name];
            if (!grad) throw new Error(`AdamW: no gradient for ${name}`);
            const mo = moments.get(name) as { m: tf.Variable; v: tf.Variable };
            const m = mo.m.mul(beta1).add(grad.mul(1 - beta1));
            const v = mo.v.mul(beta2).add(grad.square().mul(1 - beta2));
            mo.m.assign(m);
            mo.v.assign(v);
            const update = m.div(v.div(bc2).sqrt().add(eps)).mul(groupLr / bc1);
            p.assign(decay === 1 ? p.sub(update) : p.mul(decay).sub(update));
          }
        }
      });
    },
    setStep(step) {
      t = step;
    },
    dispose() {
      for (const { m, v } of moments.values()) {
        m.dispose();
        v.dispose();
      }
    },
  };
}

/**
 * One training step on a batch (row-major [batchSize, seqLen] ids/targets): forward, backward,
 * AdamW update with schedule lr η. Returns the mean loss before the update. Leaves no tensors.
 * On wasm an even batch is computed as two half-batch shards, the second in a worker thread when
 * there is one (data-parallel.ts): mean loss and mean gradient of the shards.
 */
export function trainStep(
  model: GPT,
  optimizer: AdamW,
  inputs: Int32Array,
  targets: Int32Array,
  batchSize: number,
  lr: number,
): number {
  const { loss, grads } = lossAndGradients(model, inputs, targets, batchSize);
  // Skip the update on a non-finite loss: the caller stops the run as diverged.
  if (Number.isFinite(loss)) optimizer.step(grads, lr);
  tf.dispose(grads);
  return loss;
}

/**
 * Mean loss of a batch and its gradient, keyed by variable name (the caller disposes the grads).
 * Sharded on wasm as described at trainStep.
 */
export function lossAndGradients(
  model: GPT,
  inputs: Int32Array,
  targets: Int32Array,
  batchSize: number,
): { loss: number; grads: tf.NamedTensorMap } {
  const vars = [...model.params.values()];
  const shard = (ids: Int32Array, tgt: Int32Array, rows: number) => {
    const idsT = tf.tensor1d(ids, "int32");
    const tgtT = tf.tensor1d(tgt, "int32");
    try {
      const { value, grads } = tf.variableGrads(() => model.loss(idsT, tgtT, rows), vars);
      const loss = value.dataSync()[0] as number;
      value.dispose();
      return { loss, grads };
    } finally {
      idsT.dispose();
      tgtT.dispose();
    }
  };
  let loss: number;
  let grads: tf.NamedTensorMap;
  if (shardCount(batchSize) === 1) {
    ({ loss, grads } = shard(inputs, targets, batchSize));
  } else {
    const rows = batchSize / 2;
    const n = inputs.length / 2;
    const [in0, in1] = [inputs.subarray(0, n), inputs.subarray(n)];
    const [tg0, tg1] = [targets.subarray(0, n), targets.subarray(n)];
    const pending = startShard(model, in1, tg1, rows);
    const started = performance.now();
    const first = shard(in0, tg0, rows);
    const remote = pending?.result(performance.now() - started) ?? null;
    let second: { loss: number; grads: tf.NamedTensorMap };
    if (remote) {
      const g: tf.NamedTensorMap = {};
      let at = 0;
      for (const v of vars) {
        g[v.name] = tf.tensor(remote.grads.subarray(at, at + v.size), v.shape, "float32");
        at += v.size;
      }
      second = { loss: remote.loss, grads: g };
    } else {
      second = shard(in1, tg1, rows);
    }
    loss = (first.loss + second.loss) / 2;
    grads = tf.tidy(() => {
      const mean: tf.NamedTensorMap = {};
      for (const v of vars) {
        mean[v.name] = (first.grads[v.name] as tf.Tensor).add(second.grads[v.name] as tf.Tensor).mul(0.5);
      }
      return mean;
    });
    tf.dispose([...Object.values(first.grads), ...Object.values(second.grads)]);
  }
  return { loss, grads };
}

/** Σ per-token loss·mask over one eval batch (mask 1 = counted target, 0 = padding). */
export function maskedLossSum(
  model: GPT,
  inputs: Int32Array,
  targets: Int32Array,
  mask: Float32Array,
  batchSize: number,
): number {
  return tf.tidy(() => {
    const losses = model.tokenLosses(tf.tensor1d(inputs, "int32"), tf.tensor1d(targets, "int32"), batchSize);
    return losses.mul(tf.tensor1d(mask)).sum().dataSync()[0] as number;
  });
}
