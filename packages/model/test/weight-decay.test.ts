// Weight decay under μP (docs/weight-decay.md): the per-step decay of a hidden matrix is η·λ at
// every width, as microsoft/mup's MuAdamW makes it (lr / m_width, weight_decay × m_width), not
// η_group·λ = η·λ/m_width, which would shrink as the model widens.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { createAdamW, createGPT, type GPTConfig, initBackend, widthMultiplier } from "../src/index.ts";

beforeAll(async () => {
  await initBackend();
});

const base: GPTConfig = {
  name: "wd",
  dModel: 16,
  nLayers: 1,
  nHeads: 1,
  dHead: 16,
  mlpHidden: 32,
  baseWidth: 16,
  embMultiplier: 1,
  residualMultiplier: 1,
  initStd: 0.05,
  vocabSize: 20,
  seqLen: 8,
};

/** Factor one AdamW step with zero gradients (so only the decay acts) multiplies each parameter by. */
function decayFactors(config: GPTConfig, lr: number, weightDecay: number): Map<string, number> {
  const model = createGPT(config, 3);
  const opt = createAdamW(model, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay });
  const before = new Map([...model.params].map(([n, p]) => [n, Array.from(p.dataSync())]));
  const grads: tf.NamedTensorMap = {};
  for (const p of model.params.values()) grads[p.name] = tf.zerosLike(p);
  opt.step(grads, lr);
  tf.dispose(Object.values(grads));
  const factors = new Map<string, number>();
  for (const [name, p] of model.params) {
    const after = p.dataSync();
    const b = before.get(name) as number[];
    // the largest |entry| gives the ratio with the least float32 rounding
    let i = 0;
    for (let j = 1; j < b.length; j++) if (Math.abs(b[j] as number) > Math.abs(b[i] as number)) i = j;
    factors.set(name, (after[i] as number) / (b[i] as number));
  }
  opt.dispose();
  model.dispose();
  return factors;
}

describe("AdamW weight decay under μP", () => {
  const lr = 0.02;
  const weightDecay = 0.1;

  it("decays hidden matrices by η·λ per step at every width (m_width 1, 4, 8)", () => {
    for (const dModel of [16, 64, 128]) {
      const config = { ...base, dModel, dHead: dModel, mlpHidden: 2 * dModel };
      expect(widthMultiplier(config)).toBe(dModel / 16);
      const f = decayFactors(config, lr, weightDecay);
      // η·λ = 2e-3, not η·λ/m_width (5e-4 at m_width 4, 2.5e-4 at 8)
      for (const name of ["h0.wqkv", "h0.wo", "h0.w13", "h0.w2"])
        expect(1 - (f.get(name) as number)).toBeCloseTo(lr * weightDecay, 6);
      // embeddings, norm gains and the output head do not decay
      for (const name of ["wte", "head", "normF"]) expect(f.get(name)).toBe(1);
    }
  });
});
