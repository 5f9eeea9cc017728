// The loss-curve laws on synthetic curves drawn from each law with known parameters: the fit
// recovers the parameters, and predicts the curve of a schedule and a length it never saw.
import type { ScheduleSpec } from "@powersweep/spec";
import { describe, expect, it } from "vitest";
import {
  adviseSchedule,
  annealingArea,
  type CurveLawName,
  estimateEtaOpt,
  fitLossCurve,
  lawLoss,
  levenbergMarquardt,
  lrTrace,
  mulberry32,
  normal,
  type ObservedCurve,
  predictEtaOpt,
  predictFinalLoss,
  predictLossCurve,
  prepareRun,
  type RunShape,
} from "../src/index.ts";

const BATCH = { batchSize: 8, seqLen: 64 }; // 512 tokens per update
const wsd = (lr: number, decayFraction = 0.1, decayShape: "exponential" | "linear" = "exponential"): ScheduleSpec => ({
  type: "wsd",
  lr,
  warmupTokens: 2048,
  decayFraction,
  decayShape,
});
const cosine = (lr: number): ScheduleSpec => ({ type: "cosine", lr, warmupTokens: 2048, minLrRatio: 0 });

/** Synthetic curves follow their law from the first update (no early transient to leave out). */
const SYNTH_MIN_TOKENS = 2_560;
const TISSUE = { L0: 2.0, A: 0.5, alpha: 0.6, C: 0.2 };
const MPL = { L0: 2.0, A: 0.5, alpha: 0.6, B: 20, C: 1, beta: 0.6, gamma: 0.5 };

/** A curve drawn from a law: train loss at every step with log-normal noise, and the final test loss (+offset). */
function synthCurve(
  law: CurveLawName,
  params: Record<string, number>,
  run: RunShape,
  opts: { noise: number; testOffset?: number; rand: () => number },
): ObservedCurve {
  const prepared = prepareRun(run, law);
  const points: ObservedCurve["points"] = [];
  for (let step = 2; step <= prepared.trace.steps; step++) {
    const loss = lawLoss(law, params, prepared, step - 1) * Math.exp(opts.noise * normal(opts.rand));
    points.push({ step, loss, split: "train" });
  }
  if (opts.testOffset !== undefined) {
    const u = prepared.trace.steps;
    points.push({ step: u, loss: lawLoss(law, params, prepared, u) + opts.testOffset, split: "test" });
  }
  return { ...run, points };
}

function truth(law: CurveLawName, params: Record<string, number>, run: RunShape, u?: number): number {
  const prepared = prepareRun(run, law);
  return lawLoss(law, params, prepared, u ?? prepared.trace.steps);
}

const runsAt = (schedule: (lr: number) => ScheduleSpec, lr: number, tokens: number[]): RunShape[] =>
  tokens.map((t) => ({ schedule: schedule(lr), tokens: t, ...BATCH }));

describe("lr trace and areas", () => {
  it("uses the trainer's lr of each update and sums it into the forward area", () => {
    const tr = lrTrace({ schedule: wsd(0.01), tokens: 51_200, ...BATCH });
    expect(tr.steps).toBe(100);
    expect(tr.warmupSteps).toBe(4); // updates 1..4 start below 2048 tokens
    expect(tr.lrs[0]).toBe(0); // warmup starts at 0
    expect(tr.lrs[4]).toBeCloseTo(0.01, 12);
    expect(tr.lrs[99]).toBeLessThan(0.001); // end of the exponential decay
    const total = Array.from(tr.lrs).reduce((a, b) => a + b, 0);
    expect(tr.area[100]).toBeCloseTo(total, 12);
  });

  it("counts only post-warmup drops as annealing (S2 ≥ 0 and 0 until the decay starts)", () => {
    const tr = lrTrace({ schedule: wsd(0.01), tokens: 51_200, ...BATCH });
    const s2 = annealingArea(tr, 0.999);
    expect(s2[89]).toBe(0);
    expect(s2[100]).toBeGreaterThan(0);
    // λ = 1: the momentum is the whole drop so far, S2 = Σ_i (η_peak − η_i); λ = 0: S2 = η_peak − η_now.
    let expected = 0;
    for (let i = 6; i <= 100; i++) expected += 0.01 - (tr.lrs[i - 1] as number);
    expect(annealingArea(tr, 1)[100]).toBeCloseTo(expected, 12);
    expect(annealingArea(tr, 0)[100]).toBeCloseTo(0.01 - (tr.lrs[99] as number), 12);
  });
});

describe("levenbergMarquardt", () => {
  it("fits y = a·exp(−b·x) from a poor start", () => {
    const xs = Array.from({ length: 30 }, (_, i) => i / 5);
    const ys = xs.map((x) => 3 * Math.exp(-0.7 * x));
    const res = levenbergMarquardt(
      (t) => Float64Array.from(xs, (x, i) => t[0]! * Math.exp(-t[1]! * x) - ys[i]!),
      Float64Array.from([1, 0.1]),
    );
    expect(res.theta[0]).toBeCloseTo(3, 6);
    expect(res.theta[1]).toBeCloseTo(0.7, 6);
  });
});

describe.each([
  ["tissue", TISSUE],
  ["multi-power", MPL],
] as const)("%s law on its own synthetic curves", (law, params) => {
  const rand = mulberry32(law === "tissue" ? 3 : 4);
  // Fit set: WSD at three lengths and one cosine run (two schedule shapes, as the papers fit on).
  const fitRuns = [...runsAt((lr) => wsd(lr), 0.01, [25_600, 51_200, 102_400]), ...runsAt(cosine, 0.01, [51_200])];
  const curves = fitRuns.map((r) => synthCurve(law, params, r, { noise: 0.01, testOffset: 0.05, rand }));
  const fit = fitLossCurve(curves, { law, minTokens: SYNTH_MIN_TOKENS });

  it("recovers the parameters within tolerance", () => {
    expect(fit.params.L0).toBeCloseTo(params.L0, 1);
    expect(fit.params.A).toBeGreaterThan(params.A * 0.8);
    expect(fit.params.A).toBeLessThan(params.A * 1.25);
    expect(fit.params.alpha).toBeGreaterThan(params.alpha * 0.85);
    expect(fit.params.alpha).toBeLessThan(params.alpha * 1.15);
    expect(fit.testOffset).toBeCloseTo(0.05, 2);
    expect(fit.ci95).not.toBeNull();
    for (const name of ["L0", "A", "alpha"]) {
      const [lo, hi] = fit.ci95![name]!;
      expect(lo).toBeLessThan(fit.params[name]!);
      expect(hi).toBeGreaterThan(fit.params[name]!);
    }
    if (law === "tissue") {
      expect(fit.params.C).toBeGreaterThan(params.C * 0.8);
      expect(fit.params.C).toBeLessThan(params.C * 1.25);
    }
  });

  it("predicts an unseen schedule at twice the longest T", () => {
    for (const schedule of [cosine(0.01), wsd(0.01, 0.3, "linear")]) {
      const run = { schedule, tokens: 204_800, ...BATCH };
      const pred = predictLossCurve(fit, run, { points: 50 });
      expect(pred.predicted).toBe(true);
      expect(pred.curve.length).toBe(50);
      // Every point past the fitted range's start.
      for (const pt of pred.curve.filter((p) => p.tokens >= 12_800))
        expect(Math.abs(pt.loss - truth(law, params, run, pt.step))).toBeLessThan(0.03);
      expect(pred.final.testLoss).not.toBeNull();
      expect(Math.abs(pred.final.testLoss! - (truth(law, params, run) + 0.05))).toBeLessThan(0.03);
      const [lo, hi] = pred.final.ci95!;
      expect(lo).toBeLessThan(pred.final.testLoss!);
      expect(hi).toBeGreaterThan(pred.final.testLoss!);
    }
  });
});

describe("predictions across lr groups", () => {
  it("finds η_opt at an untrained T from per-lr fits, marked predicted", () => {
    const rand = mulberry32(7);
    // Each lr's curves follow the multi-power law with an L0 that is lowest at η = 0.01.
    const lrs = [0.0025, 0.005, 0.01, 0.02, 0.04];
    const groups = lrs.map((lr) => {
      const p = { ...MPL, L0: 2 + 0.05 * Math.log2(lr / 0.01) ** 2 };
      const curves = [...runsAt((l) => wsd(l), lr, [25_600, 51_200, 102_400]), ...runsAt(cosine, lr, [51_200])].map(
        (r) => synthCurve("multi-power", p, r, { noise: 0.01, testOffset: 0.05, rand }),
      );
      return { lr, fit: fitLossCurve(curves, { law: "multi-power", minTokens: SYNTH_MIN_TOKENS }) };
    });
    const target = { tokens: 204_800, ...BATCH, scheduleFor: (lr: number) => wsd(lr) };
    const pred = predictEtaOpt(groups, target);
    expect(pred.predicted).toBe(true);
    expect(pred.points.map((p) => p.lr)).toEqual(lrs);
    // Against η_opt of the true losses at that T (the area term moves it above 0.01).
    const trueLosses = lrs.map((lr) => {
      const p = { ...MPL, L0: 2 + 0.05 * Math.log2(lr / 0.01) ** 2 };
      return { lr, testLoss: truth("multi-power", p, { ...target, schedule: wsd(lr) }) + 0.05 };
    });
    const trueEtaOpt = estimateEtaOpt(trueLosses).etaOpt;
    expect(Math.abs(Math.log2(pred.estimate.etaOpt / trueEtaOpt))).toBeLessThan(0.25);
    pred.points.forEach((p, i) => {
      expect(Math.abs(p.loss - trueLosses[i]!.testLoss)).toBeLessThan(0.02);
    });
  });

  it("advises the decay the law predicts best, no worse than the paper's 10% exponential", () => {
    const rand = mulberry32(9);
    const curves = [...runsAt((l) => wsd(l), 0.01, [25_600, 51_200, 102_400]), ...runsAt(cosine, 0.01, [51_200])].map(
      (r) => synthCurve("multi-power", MPL, r, { noise: 0.01, rand }),
    );
    const fit = fitLossCurve(curves, { law: "multi-power", minTokens: SYNTH_MIN_TOKENS });
    const advice = adviseSchedule(fit, { tokens: 204_800, ...BATCH, lr: 0.01, warmupTokens: 2048 });
    expect(advice.best.loss).toBeLessThanOrEqual(advice.baseline.loss);
    expect(advice.gain).toBeGreaterThanOrEqual(0);
    // The advised schedule is (near) the best under the true law among the candidates.
    const trueLoss = (s: ScheduleSpec) => truth("multi-power", MPL, { schedule: s, tokens: 204_800, ...BATCH });
    const trueBest = Math.min(...advice.candidates.map((c) => trueLoss(c.schedule)));
    expect(trueLoss(advice.best.schedule) - trueBest).toBeLessThan(0.01);
    expect(trueLoss(advice.best.schedule)).toBeLessThanOrEqual(trueLoss(advice.baseline.schedule) + 1e-9);
  });

  it("keeps intervals when the data cannot fix the decay parameters (constant lr only)", () => {
    const rand = mulberry32(5);
    const constant = (lr: number): ScheduleSpec => ({ type: "constant", lr, warmupTokens: 2048 });
    const curves = runsAt(constant, 0.01, [25_600, 51_200]).map((r) =>
      synthCurve("multi-power", MPL, r, { noise: 0.01, testOffset: 0.05, rand }),
    );
    const fit = fitLossCurve(curves, { law: "multi-power", minTokens: SYNTH_MIN_TOKENS });
    expect(fit.covariance).not.toBeNull();
    const run = { schedule: constant(0.01), tokens: 102_400, ...BATCH };
    const pred = predictFinalLoss(fit, run);
    const expected = truth("multi-power", MPL, run) + 0.05;
    expect(Math.abs((pred.testLoss as number) - expected)).toBeLessThan(0.03);
    const [lo, hi] = pred.ci95 as [number, number];
    expect(lo).toBeLessThan(pred.testLoss as number);
    expect(hi).toBeGreaterThan(pred.testLoss as number);
  });

  it("fits held-out subset losses with their own offset and weighs the precise held-out points up", () => {
    const rand = mulberry32(11);
    // Train losses noisy (one batch each), eval-subset losses every 20 updates with a 0.08 offset and
    // little noise, and the final test loss with a 0.05 offset.
    const curves = [...runsAt((l) => wsd(l), 0.01, [25_600, 51_200, 102_400]), ...runsAt(cosine, 0.01, [51_200])].map(
      (r) => {
        const c = synthCurve("multi-power", MPL, r, { noise: 0.03, testOffset: 0.05, rand });
        const prepared = prepareRun(r, "multi-power");
        for (let step = 20; step < prepared.trace.steps; step += 20) {
          const loss = (lawLoss("multi-power", MPL, prepared, step) + 0.08) * Math.exp(0.002 * normal(rand));
          c.points.push({ step, loss, split: "eval" });
        }
        return c;
      },
    );
    const fit = fitLossCurve(curves, { law: "multi-power", minTokens: SYNTH_MIN_TOKENS, heldOutWeight: "auto" });
    expect(fit.evalOffset).toBeCloseTo(0.08, 2);
    expect(fit.testOffset).toBeCloseTo(0.05, 2);
    expect(fit.heldOutWeight).toBeGreaterThan(10);
    const unweighted = fitLossCurve(curves, { law: "multi-power", minTokens: SYNTH_MIN_TOKENS });
    expect(unweighted.heldOutWeight).toBe(1);
    // The weighted fit predicts a 2× longer run at least as well as the unweighted one, and well.
    const run = { schedule: wsd(0.01), tokens: 204_800, ...BATCH };
    const expected = truth("multi-power", MPL, run) + 0.05;
    const err = (f: typeof fit) => Math.abs((predictFinalLoss(f, run).testLoss as number) - expected);
    expect(err(fit)).toBeLessThan(0.02);
    expect(err(fit)).toBeLessThanOrEqual(err(unweighted) + 0.005);
  });

  it("refuses a run whose update size differs from the fit's", () => {
    const rand = mulberry32(1);
    const curves = runsAt((l) => wsd(l), 0.01, [25_600, 51_200]).map((r) =>
      synthCurve("tissue", TISSUE, r, { noise: 0.01, rand }),
    );
    const fit = fitLossCurve(curves, { law: "tissue", minTokens: SYNTH_MIN_TOKENS });
    expect(() => predictFinalLoss(fit, { schedule: wsd(0.01), tokens: 51_200, batchSize: 16, seqLen: 64 })).toThrow(
      /per update of 512 tokens/,
    );
  });
});
