import { describe, expect, it } from "vitest";
import {
  ETA_OPT_CSV_HEADER,
  type FitRow,
  fitSweep,
  fitTablesCsv,
  mulberry32,
  normal,
  powerSweepSurface,
} from "../src/index.ts";
import { synthSweep } from "./synthetic.ts";

describe("fitSweep result", () => {
  const rows: FitRow[] = synthSweep({ models: [{ name: "36M, μP", a: 4.6, b: -0.51 }], rngSeed: 3 });
  // Failed and diverged rows, plus a NaN loss, must be ignored but counted.
  rows.push({ model: "36M, μP", tokens: 2e9, batchSize: 16, lr: 0.08, testLoss: null, status: "diverged" });
  rows.push({ model: "36M, μP", tokens: 2e9, batchSize: 16, lr: 0.04, testLoss: 1, status: "crashed" });
  rows.push({ model: "36M, μP", tokens: 2e9, batchSize: 16, lr: 0.02, testLoss: Number.NaN, status: "succeeded" });
  const fit = fitSweep(rows, { etaBootstrap: 30 });

  it("is JSON-serialisable without loss", () => {
    const text = JSON.stringify(fit);
    expect(JSON.parse(text)).toEqual(fit);
    expect(text).not.toMatch(/NaN|Infinity/);
    expect(fit.counts).toMatchObject({ diverged: 1, failed: 2 });
    const g = fit.etaOpt.find((x) => x.tokens === 2e9 && x.batchSize === 16);
    expect(g?.nDiverged).toBe(1);
    expect(g?.nFailed).toBe(2);
  });

  it("exports CSV tables with a header and one row per group", () => {
    const csv = fitTablesCsv(fit);
    const etaLines = csv.etaOpt.trimEnd().split("\n");
    expect(etaLines[0]).toBe(ETA_OPT_CSV_HEADER.join(","));
    expect(etaLines).toHaveLength(1 + 8 * 6);
    expect(etaLines[1]?.startsWith('"36M, μP",2000000000,16,')).toBe(true); // quoted model name
    const gammaLines = csv.gamma.trimEnd().split("\n");
    expect(gammaLines[0]).toBe("model,tokens,gamma,gammaGeoMean,batchSizesUsed,gammas");
    expect(gammaLines).toHaveLength(1 + fit.gamma.length);
  });

  it("finds the optimal batch size growing with T (Time Transfer)", () => {
    // Truth: B_opt = 32·(T/2e9)^0.5, read off a grid of powers of 2.
    const law = fit.batchSizeLaw.perModel["36M, μP"];
    expect(law).not.toBeNull();
    expect(Math.abs((law?.d ?? 0) - 0.5)).toBeLessThan(0.15);
    const first = fit.batchSizeLaw.table[0];
    const last = fit.batchSizeLaw.table.at(-1);
    expect(first?.batchSize).toBe(32);
    expect([256, 512]).toContain(last?.batchSize); // truth 362: log2 = 8.5, halfway between
  });

  it("flags a B_opt on the edge of the batch-size grid and leaves it out of the B_opt law", () => {
    // Truth at T = 256e9 is B_opt ≈ 362, so a grid capped at 128 puts B_opt on its top edge from
    // T = 32e9 on (truth 128), and a grid starting at 128 puts it on its bottom edge below that.
    const capped = fitSweep(
      synthSweep({ models: [{ name: "m", a: 4.6, b: -0.51 }], batchSizes: [16, 32, 64, 128], rngSeed: 5 }),
      { etaBootstrap: 10 },
    );
    const top = capped.batchSizeLaw.table.filter((r) => r.onEdge === "higher");
    expect(top.map((r) => r.tokens)).toEqual(expect.arrayContaining([64e9, 128e9, 256e9]));
    expect(top.every((r) => r.batchSize === 128)).toBe(true);
    expect(
      capped.warnings.some((w) => /T=256000000000: B_opt = 128 is the largest .*extend batch sizes higher/.test(w)),
    ).toBe(true);
    // The law only sees interior points, so it is not dragged flat by the cap.
    const law = capped.batchSizeLaw.perModel.m;
    expect(law?.n).toBe(capped.batchSizeLaw.table.length - capped.batchSizeLaw.table.filter((r) => r.onEdge).length);

    const floored = fitSweep(
      synthSweep({ models: [{ name: "m", a: 4.6, b: -0.51 }], batchSizes: [128, 256, 512], tokens: [2e9, 4e9, 8e9] }),
      { etaBootstrap: 10 },
    );
    expect(floored.batchSizeLaw.table.every((r) => r.onEdge === "lower" && r.batchSize === 128)).toBe(true);
    expect(floored.batchSizeLaw.perModel.m).toBeNull();
    expect(floored.warnings.some((w) => /B_opt law not fitted/.test(w))).toBe(true);
  });

  it("fits no B_opt law when B_opt is the same batch size at every T", () => {
    const flat = fitSweep(
      synthSweep({
        models: [{ name: "m", a: 4.6, b: -0.51 }],
        batchSizes: [16, 32, 64],
        bOptD: 0,
        bOptC: 32,
        sigma: 0.005,
      }),
      { etaBootstrap: 10 },
    );
    expect(flat.batchSizeLaw.table.every((r) => r.batchSize === 32 && r.onEdge === null)).toBe(true);
    expect(flat.batchSizeLaw.perModel.m).toBeNull();
    expect(flat.warnings).toContain(
      "m: B_opt law not fitted: B_opt = 32 at every token budget, so the batch-size grid does not resolve a trend",
    );
  });

  it("reports sensitivity (curvature) per group", () => {
    // Synthetic curvature is 2·0.1 = 0.2 per (ln η)² for every group.
    const curv = fit.etaOpt.map((g) => g.curvature).filter((c): c is number => c !== null);
    const mean = curv.reduce((s, x) => s + x, 0) / curv.length;
    expect(mean).toBeGreaterThan(0.15);
    expect(mean).toBeLessThan(0.25);
  });
});

describe("powerSweepSurface (Table 3)", () => {
  it("finds the best (a, b) and reports a flatter than b", () => {
    // Built like the paper's finding: loss nearly flat in a ∈ [3, 5], sharp in b around −0.51.
    const rand = mulberry32(7);
    const rows: FitRow[] = [];
    const as = [3, 3.5, 4, 4.5, 5];
    const bs = [-0.6, -0.57, -0.54, -0.51, -0.48, -0.45, -0.42];
    for (const tokens of [2e9, 8e9, 32e9, 128e9])
      for (const batchSize of [32, 128, 512])
        for (const powerA of as)
          for (const powerB of bs)
            for (let seed = 0; seed < 2; seed++)
              rows.push({
                model: "36M",
                tokens,
                batchSize,
                powerA,
                powerB,
                seed,
                testLoss: 3 + 0.002 * (powerA - 4) ** 2 + 20 * (powerB + 0.51) ** 2 + 0.005 * normal(rand),
              });
    const s = powerSweepSurface(rows);
    expect(s.surfaces).toHaveLength(12);
    expect(s.best?.powerB).toBe(-0.51);
    expect([3.5, 4, 4.5]).toContain(s.best?.powerA);
    expect(s.flatter).toBe("a");
    expect(s.spreadAlongB ?? 0).toBeGreaterThan(10 * (s.spreadAlongA ?? 1));
    // And fitSweep routes rows with powerA/powerB to this summary.
    expect(fitSweep(rows).powerSweep?.best?.powerB).toBe(-0.51);
  });

  const grid = (loss: (a: number, b: number, seed: number) => number, seeds = [0, 1]) => {
    const rows: FitRow[] = [];
    for (const tokens of [40_000, 80_000])
      for (const powerA of [3, 4, 5])
        for (const powerB of [-0.6, -0.51, -0.4])
          for (const seed of seeds)
            rows.push({
              model: "d32",
              tokens,
              batchSize: 8,
              powerA,
              powerB,
              seed,
              testLoss: loss(powerA, powerB, seed),
            });
    return rows;
  };

  it("identical losses (η_max clamps every schedule): a warning instead of a best (a, b), and the fit says so", () => {
    const rows = grid((_a, _b, seed) => 2.5 + 0.03 * seed); // the same schedule nine times: only seeds differ
    const s = powerSweepSurface(rows);
    expect(s.indistinguishable).toBe(true);
    expect(s.rowsUsed).toBe(36);
    expect(s.warnings.join()).toMatch(/same loss.*identical.*η_max clamps/);
    const fit = fitSweep(rows);
    expect(fit.warnings.join()).toMatch(/no best \(a, b\) can be told/);
  });

  it("differences inside the seed noise are reported as not distinguishable; real ones are not", () => {
    const rand = mulberry32(3);
    const noisy = powerSweepSurface(grid((a) => 2.5 + 0.001 * (a - 4) + 0.05 * normal(rand)));
    expect(noisy.noiseSd).toBeGreaterThan(0.02);
    expect(noisy.indistinguishable).toBe(true);
    expect(noisy.warnings.join()).toMatch(/not distinguishable/);
    const real = powerSweepSurface(grid((_a, b) => 2.5 + 10 * (b + 0.51) ** 2 + 0.01 * normal(rand)));
    expect(real.indistinguishable).toBe(false);
    expect(real.best?.powerB).toBe(-0.51);
    expect(real.warnings).toEqual([]);
    // one seed per cell: the best is reported with a warning that the noise is unknown
    const one = powerSweepSurface(grid((_a, b) => 2.5 + 10 * (b + 0.51) ** 2, [0]));
    expect(one.noiseSd).toBeNull();
    expect(one.warnings.join()).toMatch(/one seed per \(a, b\)/);
  });
});
