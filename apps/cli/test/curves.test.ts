// `powersweep curves`: flags become the API query (errors name the flag) and the table says the
// losses are predictions.
import { describe, expect, it } from "vitest";
import { curvesQuery, formatCurves } from "../src/commands/curves.ts";

const flags = { tokens: "4e5", schedule: "wsd", law: "multi-power" };

describe("powersweep curves", () => {
  it("builds the query and names the bad flag", () => {
    const q = curvesQuery({ ...flags, decayFraction: "0.2", decayShape: "linear", batchSize: "8" });
    expect(Object.fromEntries(q)).toEqual({
      tokens: "400000",
      schedule: "wsd",
      law: "multi-power",
      decayFraction: "0.2",
      decayShape: "linear",
      batchSize: "8",
    });
    expect(() => curvesQuery({ ...flags, tokens: "x" })).toThrow(/--tokens/);
    expect(() => curvesQuery({ ...flags, schedule: "power" })).toThrow(/--schedule/);
    expect(() => curvesQuery({ ...flags, law: "chinchilla" })).toThrow(/--law/);
    expect(() => curvesQuery({ ...flags, decayFraction: "1.5" })).toThrow(/--decay-fraction/);
    expect(() => curvesQuery({ ...flags, batchSize: "2.5" })).toThrow(/--batch-size/);
  });

  it("prints predictions marked as such, with intervals, η_opt and advice", () => {
    const out = formatCurves({
      sweepId: "s",
      tokens: 4e5,
      law: "multi-power",
      groups: [
        {
          model: "d32",
          batchSize: 8,
          lr: 0.01,
          runs: 2,
          error: null,
          fit: { testOffset: -0.05, residualScale: 0.03 },
          final: { trainLoss: 2.41, testLoss: 2.36, ci95: [2.3, 2.42] },
        },
        { model: "d32", batchSize: 8, lr: 0.02, runs: 1, error: "too few points", fit: null, final: null },
      ],
      etaOpt: [{ model: "d32", batchSize: 8, etaOpt: 0.012, ci95: null, lossAtOpt: 2.35, extend: "higher" }],
      advice: [
        {
          model: "d32",
          batchSize: 8,
          lr: 0.01,
          best: { schedule: { type: "wsd", decayFraction: 0.3, decayShape: "linear" }, loss: 2.39 },
          baseline: { schedule: { type: "wsd", decayFraction: 0.1, decayShape: "exponential" }, loss: 2.41 },
          gain: 0.02,
        },
      ],
    });
    expect(out).toMatch(/^PREDICTED by the multi-power law/);
    expect(out).toContain("2.3600\t[2.3000, 2.4200]");
    expect(out).toContain("no fit: too few points");
    expect(out).toContain("extend higher");
    expect(out).toContain("best wsd 30% linear 2.3900 vs wsd 10% exponential 2.4100");
  });
});
