// μP coord check (microsoft/mup; docs/papers.md): train a few AdamW steps at several widths and record
// the mean |activation| of every layer. Under μP they stay in a narrow band as width grows; under
// the standard parametrisation the logits grow with width (≈ linearly after Adam updates).
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { createAdamW, createGPT, type GPTConfig, initBackend, type Parametrization, trainStep } from "../src/index.ts";

const WIDTHS = [32, 64, 128, 256];
const BASE_WIDTH = 32;
const STEPS = 10;
const BATCH = 4;
const SEQ = 32;
const VOCAB = 64;
const LR = 0.01;

/** A fixed learnable sequence: token i+1 follows token i with noise, so gradients are coherent. */
function batch(seed: number): { inputs: Int32Array; targets: Int32Array } {
  let s = seed;
  const rand = () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return s / 4294967296;
  };
  const stream = new Int32Array(BATCH * SEQ + 1);
  stream[0] = 0;
  for (let i = 1; i < stream.length; i++)
    stream[i] = rand() < 0.8 ? ((stream[i - 1] as number) + 1) % VOCAB : Math.floor(rand() * VOCAB);
  return { inputs: stream.slice(0, -1), targets: stream.slice(1) };
}

/** Mean |activation| per layer after STEPS training steps at this width. */
function coordinates(dModel: number, parametrization: Parametrization): Record<string, number> {
  const config: GPTConfig = {
    name: `d${dModel}`,
    dModel,
    nLayers: 2,
    nHeads: 2,
    dHead: dModel / 2, // heads fixed, dHead grows with width (so 1/dHead vs 1/√dHead matters)
    mlpHidden: 2 * dModel,
    baseWidth: BASE_WIDTH,
    embMultiplier: 1,
    residualMultiplier: 1,
    initStd: 0.02,
    vocabSize: VOCAB,
    seqLen: SEQ,
    parametrization,
  };
  const model = createGPT(config, 7);
  const optimizer = createAdamW(model, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0 });
  for (let s = 0; s < STEPS; s++) {
    const b = batch(s + 1);
    trainStep(model, optimizer, b.inputs, b.targets, BATCH, LR);
  }
  const out: Record<string, number> = {};
  const b = batch(99);
  tf.tidy(() => {
    model.forward(tf.tensor1d(b.inputs, "int32"), BATCH, (name, a) => {
      out[name] = a.abs().mean().dataSync()[0] as number;
    });
  });
  optimizer.dispose();
  model.dispose();
  return out;
}

/** For each layer, max/min of its mean |activation| across widths. */
function spread(rows: Record<string, number>[]): Record<string, number> {
  const names = Object.keys(rows[0] as Record<string, number>);
  return Object.fromEntries(
    names.map((n) => {
      const values = rows.map((r) => r[n] as number);
      return [n, Math.max(...values) / Math.min(...values)];
    }),
  );
}

describe("μP coord check", () => {
  beforeAll(async () => {
    await initBackend("wasm");
  });

  it("keeps every layer's mean |activation| flat across widths 32–256 under μP, and the same check fails for the standard parametrisation", () => {
    const mup = WIDTHS.map((w) => coordinates(w, "mup"));
    const sp = WIDTHS.map((w) => coordinates(w, "standard"));
    const mupSpread = spread(mup);
    const spSpread = spread(sp);
    // μP: every layer within a factor MUP_BAND over an 8× width range
    expect(outsideBand(mupSpread)).toEqual([]);
    // SP fails the very same check: its attention/MLP outputs and residual stream grow with width
    expect(outsideBand(spSpread)).toEqual(expect.arrayContaining(["h0.attn", "h0.mlp", "h0.residual", "h1.residual"]));
    expect(spSpread["h1.residual"]).toBeGreaterThan(10 * MUP_BAND);
  });
});

/** Max/min of a layer's mean |activation| across the 8× width range that still counts as flat.
 * Measured: μP ≤ 1.9 (the logits, whose init part shrinks as 1/√width, as μP intends); SP ≥ 100
 * for every hidden layer. */
const MUP_BAND = 2.5;

function outsideBand(spreads: Record<string, number>): string[] {
  return Object.entries(spreads)
    .filter(([, ratio]) => !(ratio < MUP_BAND))
    .map(([layer]) => layer);
}
