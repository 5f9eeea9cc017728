import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attentionJs, attentionOps } from "../src/attention.ts";
import {
  createAdamW,
  createGPT,
  embeddingLookup,
  type GPTConfig,
  gradientWorkerState,
  initBackend,
  lossAndGradients,
  matMul,
  meanCrossEntropy,
  oneHotFloat,
  setGradientWorker,
  shardCount,
  tokenCrossEntropy,
  trainStep,
  widthMultiplier,
} from "../src/index.ts";

const tiny: GPTConfig = {
  name: "tiny",
  dModel: 32,
  nLayers: 2,
  nHeads: 2,
  dHead: 16,
  mlpHidden: 64,
  baseWidth: 8, // m_width = 4
  embMultiplier: 2,
  residualMultiplier: 0.5,
  initStd: 0.05,
  vocabSize: 50,
  seqLen: 16,
};
const adam = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };

function sequence(n: number, seed: number, vocab = tiny.vocabSize): Int32Array {
  let s = seed;
  return Int32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return s % vocab;
  });
}

function std(values: Float32Array | Int32Array | Uint8Array): number {
  let sum = 0;
  let sq = 0;
  for (const v of values) {
    sum += v;
    sq += v * v;
  }
  const mean = sum / values.length;
  return Math.sqrt(sq / values.length - mean * mean);
}

describe("model on wasm", () => {
  beforeAll(async () => {
    expect(await initBackend("wasm")).toBe("wasm");
  });
  afterAll(async () => {
    await initBackend("wasm");
  });

  it("clones and same-dtype casts share data on wasm and stay valid after the original is disposed", () => {
    const buffers = () => (tf.memory() as { numDataBuffers: number }).numDataBuffers;
    const before = buffers();
    const a = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    const b = a.clone();
    const c = tf.cast(a, "float32");
    const ints = tf.tensor1d([1, 2], "int32");
    const d = tf.cast(ints, "float32"); // a real conversion still converts
    expect(buffers() - before).toBe(3); // a's (shared by b and c), ints', d's
    a.dispose();
    expect(Array.from(b.dataSync())).toEqual([1, 2, 3, 4]);
    b.dispose();
    expect(Array.from(c.dataSync())).toEqual([1, 2, 3, 4]);
    expect(Array.from(d.dataSync())).toEqual([1, 2]);
    tf.dispose([c, d, ints]);
    expect(buffers()).toBe(before);
  });

  it("transposes matrices and sums over leading axes in JS on wasm with the values of the generic kernels", () => {
    const buffers = () => (tf.memory() as { numDataBuffers: number }).numDataBuffers;
    const before = buffers();
    const values = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 7)));
    // matrices of every row-count remainder mod 8 (the 8-row unrolled loop and its tail), size-1 axes
    for (const [shape, perm] of [
      [
        [13, 5],
        [1, 0],
      ],
      [
        [16, 3],
        [1, 0],
      ],
      [
        [1, 9, 1, 4],
        [3, 1, 2, 0],
      ],
      [
        [2, 3, 4],
        [0, 2, 1],
      ], // not a matrix: the generic kernel
      [
        [3, 4],
        [0, 1],
      ], // identity permutation
    ] as [number[], number[]][]) {
      const size = shape.reduce((a, b) => a * b, 1);
      const x = tf.tensor(values(size), shape);
      const y = tf.transpose(x, perm);
      expect(y.shape).toEqual(perm.map((a) => shape[a]));
      // reference: index arithmetic on the row-major input
      const xs = x.dataSync();
      const ys = y.dataSync();
      const outShape = y.shape;
      const expected = new Float32Array(size);
      for (let flat = 0; flat < size; flat++) {
        let rest = flat;
        const outIndex = outShape.map(() => 0);
        for (let k = outShape.length - 1; k >= 0; k--) {
          outIndex[k] = rest % (outShape[k] as number);
          rest = Math.floor(rest / (outShape[k] as number));
        }
        const inIndex = shape.map(() => 0);
        perm.forEach((a, k) => {
          inIndex[a] = outIndex[k] as number;
        });
        const at = inIndex.reduce((acc, v, k) => acc * (shape[k] as number) + v, 0);
        expected[flat] = xs[at] as number;
      }
      expect(Array.from(ys)).toEqual(Array.from(expected));
      tf.dispose([x, y]);
    }
    const ints = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3], "int32");
    tf.tidy(() => {
      expect(Array.from(tf.transpose(ints).dataSync())).toEqual([1, 4, 2, 5, 3, 6]);
    });
    // sums: leading axes in JS (float32 additions row after row), any other axes generic
    const x = tf.tensor(values(5 * 6 * 7), [5, 6, 7]);
    const xs = x.dataSync();
    const rowAfterRow = (rows: number, cols: number) => {
      const out = new Float32Array(cols);
      for (let r = 0; r < rows; r++)
        for (let c = 0; c < cols; c++) out[c] = Math.fround((out[c] as number) + (xs[r * cols + c] as number));
      return Array.from(out);
    };
    tf.tidy(() => {
      expect(x.sum(0).shape).toEqual([6, 7]);
      expect(Array.from(x.sum(0).dataSync())).toEqual(rowAfterRow(5, 42));
      expect(x.sum([1, 0], true).shape).toEqual([1, 1, 7]);
      expect(Array.from(x.sum([1, 0], true).dataSync())).toEqual(rowAfterRow(30, 7));
      const firstRowSum = Array.from(xs.subarray(0, 7)).reduce((a, b) => a + b, 0);
      expect(x.sum(-1).dataSync()[0]).toBeCloseTo(firstRowSum, 4); // generic kernel
      expect(x.sum().dataSync()[0]).toBeCloseTo(
        Array.from(xs).reduce((a, b) => a + b, 0),
        2,
      );
      expect(Array.from(tf.sum(ints, 0).dataSync())).toEqual([5, 7, 9]);
    });
    tf.dispose([x, ints]);
    expect(buffers()).toBe(before);
  });

  it("oneHotFloat gives exact float 0/1 on wasm (tf.oneHot(…, 'float32') returns int bits there)", () => {
    const ids = tf.tensor1d([3, 0, 4, 3], "int32");
    const oh = oneHotFloat(ids, 5);
    expect(oh.dtype).toBe("float32");
    expect(Array.from(oh.dataSync())).toEqual([0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0]);
    // and the matmul that the embedding backward relies on sums rows correctly
    const summed = tf.matMul(tf.transpose(oh), tf.ones([4, 1])).dataSync();
    expect(Array.from(summed)).toEqual([1, 0, 0, 2, 1]);
    tf.dispose([ids, oh]);
  });

  it("initialises per Table 1: hidden matrices std initStd/√m_width, embeddings and head std initStd", () => {
    const model = createGPT(tiny, 3);
    const m = widthMultiplier(tiny);
    expect(m).toBe(4);
    const s = (name: string) => std(model.params.get(name)?.dataSync() as Float32Array);
    expect(s("h0.wqkv")).toBeCloseTo(tiny.initStd / Math.sqrt(m), 2);
    expect(s("h1.w2")).toBeCloseTo(tiny.initStd / Math.sqrt(m), 2);
    expect(s("wte")).toBeCloseTo(tiny.initStd, 2);
    expect(s("head")).toBeCloseTo(tiny.initStd, 2);
    const hidden = model.groups.find((g) => g.name === "hidden");
    const other = model.groups.find((g) => g.name === "other");
    expect(hidden?.lrScale).toBe(1 / m);
    expect(hidden?.weightDecay).toBe(true);
    expect(hidden?.params.sort()).toEqual([
      "h0.w13",
      "h0.w2",
      "h0.wo",
      "h0.wqkv",
      "h1.w13",
      "h1.w2",
      "h1.wo",
      "h1.wqkv",
    ]);
    expect(other?.lrScale).toBe(1);
    expect(other?.weightDecay).toBe(false);
    const sp = createGPT({ ...tiny, parametrization: "standard" }, 3);
    expect(std(sp.params.get("h0.wqkv")?.dataSync() as Float32Array)).toBeCloseTo(tiny.initStd, 2);
    expect(sp.groups.find((g) => g.name === "hidden")?.lrScale).toBe(1);
    model.dispose();
    sp.dispose();
  });

  it("is causal: changing a later token leaves earlier positions' logits unchanged", () => {
    const model = createGPT(tiny, 1);
    const ids = sequence(tiny.seqLen, 5);
    const changed = ids.slice();
    changed[10] = ((changed[10] as number) + 1) % tiny.vocabSize;
    const [a, b] = [ids, changed].map((x) => tf.tidy(() => model.forward(tf.tensor1d(x, "int32"), 1).arraySync())) as [
      number[][],
      number[][],
    ];
    for (let t = 0; t < 10; t++) expect(b[t]).toEqual(a[t]);
    expect(b[10]).not.toEqual(a[10]);
    model.dispose();
  });

  it("customGrad matmul and embedding give the same gradients as tf.matMul and tf.gather (cpu reference)", async () => {
    const a = tf.randomNormal([5, 7], 0, 1, "float32", 1);
    const b = tf.randomNormal([7, 3], 0, 1, "float32", 2);
    const ours = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
      matMul(x as tf.Tensor2D, y as tf.Tensor2D)
        .square()
        .sum(),
    )([a, b]);
    const ids = tf.tensor1d([1, 4, 1, 0], "int32");
    const table = tf.randomNormal([6, 3], 0, 1, "float32", 3);
    const embedGrad = tf.grad((w: tf.Tensor) =>
      embeddingLookup(w as tf.Tensor2D, ids)
        .square()
        .sum(),
    )(table);
    const [ga, gb, ge] = [ours[0], ours[1], embedGrad].map((t) => Array.from((t as tf.Tensor).dataSync()));
    await initBackend("cpu");
    const ref = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y).square().sum())([a, b]);
    const refEmbed = tf.grad((w: tf.Tensor) => tf.gather(w, ids).square().sum())(table);
    const close = (x: number[], y: number[]) => {
      for (const [i, v] of x.entries()) expect(v).toBeCloseTo(y[i] as number, 4);
    };
    close(ga as number[], Array.from((ref[0] as tf.Tensor).dataSync()));
    close(gb as number[], Array.from((ref[1] as tf.Tensor).dataSync()));
    close(ge as number[], Array.from(refEmbed.dataSync()));
    await initBackend("wasm");
  });

  it("the JS-reshuffled attention matches the plain tf-ops attention in value and gradient", () => {
    const T = 8;
    const shape = { batchSize: 3, seqLen: T, nHeads: 2, dHead: 4, scale: 1 / 4 };
    const mask = tf.linalg
      .bandPart(tf.ones([T, T]), -1, 0)
      .sub(1)
      .mul(1e9) as tf.Tensor2D;
    const qkv = tf.randomNormal([3 * T, 3 * 2 * 4], 0, 1, "float32", 5);
    const weights = tf.randomNormal([3 * T, 2 * 4], 0, 1, "float32", 6);
    const loss = (impl: typeof attentionJs) => (x: tf.Tensor) =>
      impl(x as tf.Tensor2D, mask, shape)
        .mul(weights)
        .sum() as tf.Scalar;
    const js = tf.valueAndGrad(loss(attentionJs))(qkv);
    const ops = tf.valueAndGrad(loss(attentionOps))(qkv);
    expect(js.value.dataSync()[0]).toBeCloseTo(ops.value.dataSync()[0] as number, 4);
    const diff = tf.max(tf.abs(js.grad.sub(ops.grad))).dataSync()[0] as number;
    expect(diff).toBeLessThan(1e-5);
    expect(tf.max(tf.abs(ops.grad)).dataSync()[0] as number).toBeGreaterThan(1e-2); // gradient is not trivially 0
    tf.dispose([mask, qkv, weights, js.value, js.grad, ops.value, ops.grad]);
  });

  it("meanCrossEntropy (softmax-based) matches tf.losses.softmaxCrossEntropy in value and gradient", () => {
    const logits = tf.randomNormal([6, 11], 0, 3, "float32", 8);
    const targets = tf.tensor1d([0, 3, 10, 3, 7, 1], "int32");
    const ours = tf.valueAndGrad((x: tf.Tensor) => meanCrossEntropy(x as tf.Tensor2D, targets))(logits);
    const ref = tf.valueAndGrad(
      (x: tf.Tensor) => tf.losses.softmaxCrossEntropy(oneHotFloat(targets, 11), x) as tf.Scalar,
    )(logits);
    expect(ours.value.dataSync()[0]).toBeCloseTo(ref.value.dataSync()[0] as number, 5);
    expect(tf.max(tf.abs(ours.grad.sub(ref.grad))).dataSync()[0] as number).toBeLessThan(1e-6);
    // and tokenCrossEntropy (exact, for evaluation) agrees per token
    const perToken = tokenCrossEntropy(logits as tf.Tensor2D, targets)
      .mean()
      .dataSync()[0] as number;
    expect(perToken).toBeCloseTo(ref.value.dataSync()[0] as number, 5);
  });

  it("an even batch trains as two shards: mean gradient = the whole batch's; the worker thread gives the same bits", () => {
    const B = 4;
    const inputs = sequence(B * tiny.seqLen, 31);
    const targets = sequence(B * tiny.seqLen, 32);
    expect(shardCount(B)).toBe(2);
    expect(shardCount(3)).toBe(1);
    const model = createGPT(tiny, 21);
    const vars = [...model.params.values()];
    // the whole batch in one autodiff pass: the reference
    const ids = tf.tensor1d(inputs, "int32");
    const tgt = tf.tensor1d(targets, "int32");
    const whole = tf.variableGrads(() => model.loss(ids, tgt, B), vars);
    const wholeLoss = whole.value.dataSync()[0] as number;
    const flat = (grads: tf.NamedTensorMap) => vars.map((v) => (grads[v.name] as tf.Tensor).dataSync() as Float32Array);
    const wholeGrads = flat(whole.grads);
    const run = (worker: boolean) => {
      setGradientWorker(worker);
      const { loss, grads } = lossAndGradients(model, inputs, targets, B);
      const out = { loss, grads: flat(grads) };
      tf.dispose(grads);
      return out;
    };
    try {
      const inWorker = run(true);
      expect(gradientWorkerState()).toBe("running");
      const here = run(false);
      // worker or not: identical bits
      expect(inWorker.loss).toBe(here.loss);
      for (const [i, g] of here.grads.entries()) expect(inWorker.grads[i]).toEqual(g);
      // sharded = whole batch, within float tolerance, for every parameter
      expect(here.loss).toBeCloseTo(wholeLoss, 5);
      for (const [i, g] of here.grads.entries()) {
        const ref = wholeGrads[i] as Float32Array;
        let maxDiff = 0;
        let maxRef = 0;
        for (const [j, v] of g.entries()) {
          maxDiff = Math.max(maxDiff, Math.abs(v - (ref[j] as number)));
          maxRef = Math.max(maxRef, Math.abs(ref[j] as number));
        }
        expect(maxRef).toBeGreaterThan(0);
        expect(maxDiff).toBeLessThan(1e-5 * maxRef + 1e-9);
      }
      // and whole training steps agree bit for bit with the worker on or off
      const steps = (worker: boolean) => {
        setGradientWorker(worker);
        const m = createGPT(tiny, 22);
        const opt = createAdamW(m, adam);
        const losses = [0, 1, 2].map((s) =>
          trainStep(m, opt, sequence(B * tiny.seqLen, s + 40), sequence(B * tiny.seqLen, s + 50), B, 3e-3),
        );
        const params = [...m.params.values()].map((p) => Array.from(p.dataSync()));
        opt.dispose();
        m.dispose();
        return { losses, params };
      };
      expect(steps(true)).toEqual(steps(false));
    } finally {
      setGradientWorker(null);
      tf.dispose([ids, tgt, whole.value, ...Object.values(whole.grads)]);
      model.dispose();
    }
  });

  it("is deterministic: same seed and batches → identical losses; another seed differs", () => {
    const run = (seed: number) => {
      const model = createGPT(tiny, seed);
      const opt = createAdamW(model, adam);
      const losses = [0, 1, 2].map((s) =>
        trainStep(model, opt, sequence(4 * tiny.seqLen, s + 10), sequence(4 * tiny.seqLen, s + 20), 4, 3e-3),
      );
      opt.dispose();
      model.dispose();
      return losses;
    };
    const first = run(11);
    expect(run(11)).toEqual(first);
    expect(run(12)).not.toEqual(first);
  });

  it("learns and leaks no tensors over 200 steps", () => {
    const model = createGPT({ ...tiny, nLayers: 1, dModel: 16, dHead: 8, mlpHidden: 32 }, 2);
    const opt = createAdamW(model, adam);
    // a repeating sequence: next token = current + 1
    const inputs = Int32Array.from({ length: 2 * tiny.seqLen }, (_, i) => i % tiny.vocabSize);
    const targets = inputs.map((t) => (t + 1) % tiny.vocabSize);
    const counts: number[] = [];
    const losses: number[] = [];
    for (let s = 0; s < 200; s++) {
      losses.push(trainStep(model, opt, inputs, targets, 2, 1e-2));
      if (s % 50 === 49) counts.push(tf.memory().numTensors);
    }
    expect(new Set(counts).size).toBe(1);
    expect(losses[199] as number).toBeLessThan(0.5 * (losses[0] as number));
    opt.dispose();
    model.dispose();
  });
});
