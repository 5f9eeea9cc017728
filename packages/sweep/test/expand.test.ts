import { type GridSweep, TRAINING_DEFAULTS, validateSweepDocument } from "@powersweep/spec";
import { describe, expect, test } from "vitest";
import {
  axisValues,
  canonicalJson,
  expandSweep,
  extendSweep,
  importedTrials,
  sweepSize,
  trialKey,
} from "../src/index.ts";

const model = (name: string, dModel: number) => ({
  name,
  dModel,
  nLayers: 2,
  nHeads: dModel / 16,
  dHead: 16,
  mlpHidden: 4 * dModel,
  baseWidth: 32,
});

function grid(doc: unknown): GridSweep {
  const v = validateSweepDocument(doc);
  if (!v.ok) throw new Error(JSON.stringify(v.errors));
  return v.value as GridSweep;
}

describe("range helpers", () => {
  test("logspace includes both ends and is evenly spaced in log", () => {
    expect(axisValues({ logspace: { from: 1e-4, to: 1e-2, num: 3 } })).toEqual([1e-4, 1e-3, 1e-2]);
    expect(axisValues({ logspace: { from: 1e-4, to: 3e-2, num: 9 } })).toHaveLength(9);
  });
  test("geometric doubles; linspace is even", () => {
    expect(axisValues({ geometric: { from: 2e6, factor: 2, count: 4 } }, { integer: true })).toEqual([
      2e6, 4e6, 8e6, 16e6,
    ]);
    expect(axisValues({ linspace: { from: 0.1, to: 0.5, num: 5 } })).toEqual([0.1, 0.2, 0.3, 0.4, 0.5]);
  });
  test("repeated list values collapse", () => {
    expect(axisValues([1e-3, 2e-3, 1e-3])).toEqual([1e-3, 2e-3]);
  });
});

describe("lr-grid", () => {
  const doc = grid({
    kind: "lr-grid",
    name: "g",
    axes: {
      models: [model("d32", 32), model("d64", 64)],
      tokens: { geometric: { from: 1e5, factor: 2, count: 3 } },
      batchSize: [8, 16],
      lr: { logspace: { from: 1e-3, to: 1e-2, num: 2 } },
      seeds: { count: 2 },
    },
    schedule: { type: "wsd", warmupTokens: 1000 },
  });

  test("size from axis sizes names the product", () => {
    const size = sweepSize(doc);
    expect(size.trials).toBe(2 * 3 * 2 * 2 * 2);
    expect(size.description).toBe("2 models × 3 tokens × 2 batchSize × 2 lr × 2 seeds = 48 trials");
  });

  test("expands to exactly the cartesian product, each a full trial config", () => {
    const trials = [...expandSweep(doc)];
    expect(trials).toHaveLength(48);
    expect(new Set(trials.map((t) => t.key)).size).toBe(48);
    // The fast key path agrees with hashing the canonical config.
    for (const t of trials) expect(t.key).toBe(trialKey(t.config));
    const combos = new Set(trials.map((t) => `${t.model}|${t.tokens}|${t.batchSize}|${t.lr}|${t.seed}`));
    for (const m of ["d32", "d64"])
      for (const T of [1e5, 2e5, 4e5])
        for (const b of [8, 16])
          for (const lr of [1e-3, 1e-2])
            for (const s of [0, 1]) expect(combos.has(`${m}|${T}|${b}|${lr}|${s}`)).toBe(true);
    const t = trials.find(
      (x) => x.model === "d64" && x.tokens === 4e5 && x.batchSize === 16 && x.lr === 1e-2 && x.seed === 1,
    );
    expect(t?.config).toEqual({
      model: model("d64", 64),
      mup: TRAINING_DEFAULTS.mup,
      schedule: { type: "wsd", lr: 1e-2, warmupTokens: 1000, decayFraction: 0.1, decayShape: "exponential" },
      tokens: 4e5,
      batchSize: 16,
      seqLen: 128,
      corpus: { type: "sotu" },
      tokenizer: { type: "byte" },
      optimizer: TRAINING_DEFAULTS.optimizer,
      evalTokens: TRAINING_DEFAULTS.evalTokens,
      seed: 1,
    });
    expect(t?.key).toBe(trialKey(t?.config));
    expect(t?.dModel).toBe(64);
  });

  test("duplicate axis values collapse to one trial", () => {
    const d = grid({
      kind: "lr-grid",
      name: "dup",
      axes: { models: [model("a", 32)], tokens: [1e5, 1e5], batchSize: [8], lr: [1e-3, 1e-3, 2e-3] },
    });
    expect([...expandSweep(d)].map((t) => t.lr)).toEqual([1e-3, 2e-3]);
  });

  test("cosine and constant schedules carry only their own fields", () => {
    const base = {
      kind: "lr-grid",
      name: "s",
      axes: { models: [model("a", 32)], tokens: [1e5], batchSize: [8], lr: [1e-3] },
    };
    const [cos] = [...expandSweep(grid({ ...base, schedule: { type: "cosine", minLrRatio: 0.1 } }))];
    expect(cos?.config.schedule).toEqual({ type: "cosine", lr: 1e-3, warmupTokens: 0, minLrRatio: 0.1 });
    const [c] = [...expandSweep(grid({ ...base, schedule: { type: "constant" } }))];
    expect(c?.config.schedule).toEqual({ type: "constant", lr: 1e-3, warmupTokens: 0 });
  });

  test("training overrides merge over the defaults", () => {
    const d = grid({
      kind: "lr-grid",
      name: "t",
      axes: { models: [model("a", 32)], tokens: [1e5], batchSize: [8], lr: [1e-3] },
      training: { seqLen: 64, mup: { embMultiplier: 4 }, optimizer: { weightDecay: 0 } },
    });
    const [t] = [...expandSweep(d)];
    expect(t?.config.seqLen).toBe(64);
    expect(t?.config.mup).toEqual({ ...TRAINING_DEFAULTS.mup, embMultiplier: 4 });
    expect(t?.config.optimizer.weightDecay).toBe(0);
    expect(t?.config.optimizer.beta2).toBe(TRAINING_DEFAULTS.optimizer.beta2);
  });
});

describe("power-grid", () => {
  const doc = grid({
    kind: "power-grid",
    name: "p",
    axes: {
      models: [model("a", 32)],
      powerA: [2, 4],
      powerB: { linspace: { from: -0.6, to: -0.4, num: 3 } },
      tokens: [1e5],
      batchSize: [8, 16],
    },
    schedule: { etaMax: 0.02, warmupTokens: 500 },
  });
  test("expands powerA × powerB × tokens × batchSize × seeds with eq. 8 schedules", () => {
    const trials = [...expandSweep(doc)];
    expect(sweepSize(doc).trials).toBe(12);
    expect(trials).toHaveLength(12);
    const t = trials.find((x) => x.powerA === 4 && x.powerB === -0.5 && x.batchSize === 16);
    expect(t?.lr).toBeNull();
    expect(t?.config.schedule).toEqual({
      type: "power",
      powerA: 4,
      powerB: -0.5,
      etaMax: 0.02,
      warmupTokens: 500,
      decayFraction: 0.1,
      decayShape: "exponential",
    });
  });
});

describe("extend", () => {
  const doc = grid({
    kind: "lr-grid",
    name: "e",
    axes: { models: [model("a", 32)], tokens: [1e5], batchSize: [8], lr: [1e-3, 2e-3] },
  });
  test("adds only the new points; re-adding existing values adds nothing", () => {
    const before = new Set([...expandSweep(doc)].map((t) => t.key));
    const bigger = extendSweep(doc, { lr: [2e-3, 4e-3], tokens: [2e5] });
    const after = [...expandSweep(bigger)];
    expect(after).toHaveLength(2 * 3);
    expect(after.filter((t) => !before.has(t.key))).toHaveLength(4);
    const same = extendSweep(doc, { lr: [1e-3] });
    expect([...expandSweep(same)].every((t) => before.has(t.key))).toBe(true);
  });
  test("an axis the kind lacks, or a model name reused with another shape, is refused", () => {
    expect(() => extendSweep(doc, { powerA: [1] })).toThrow(/no powerA axis/);
    expect(() => extendSweep(doc, { models: [model("a", 64)] })).toThrow(/different shape/);
  });
});

test("canonical JSON sorts keys, so key order does not change a trial key", () => {
  expect(canonicalJson({ b: 1, a: { d: 2, c: [1, { f: 1, e: 2 }] } })).toBe(
    '{"a":{"c":[1,{"e":2,"f":1}],"d":2},"b":1}',
  );
  expect(trialKey({ a: 1, b: 2 })).toBe(trialKey({ b: 2, a: 1 }));
});

test("imported rows become finished trials; perplexity and loss give each other; identical rows collapse", () => {
  const v = validateSweepDocument({
    kind: "import",
    name: "i",
    rows: [
      { model: "m", tokens: 1e6, batchSize: 32, lr: 1e-3, testLoss: 2 },
      { model: "m", tokens: 1e6, batchSize: 32, lr: 1e-3, testLoss: 2 },
      { model: "m", tokens: 1e6, batchSize: 32, powerA: 4, powerB: -0.5, testPerplexity: Math.E },
    ],
  });
  if (!v.ok || v.value.kind !== "import") throw new Error("invalid");
  const rows = importedTrials(v.value);
  expect(rows).toHaveLength(2);
  expect(rows[0]?.testPerplexity).toBeCloseTo(Math.exp(2));
  expect(rows[1]?.testLoss).toBeCloseTo(1);
});
