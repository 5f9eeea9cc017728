// Coverage of the η_opt 95% intervals against a known truth (the setting of the η_opt interval
// audit): a = 3.0, b = −0.48, loss = L0 + k·(ln η − ln η*)² + N(0, 0.02²), 9 lrs in factors of 2,
// 4 T over two decades, 4 β. 100 synthetic sweeps (16 cells each) per seed count.
import { describe, expect, it } from "vitest";
import { estimateEtaOpt, fitSweep } from "../src/index.ts";
import { synthEtaCells } from "./synthetic.ts";

const REPLICATES = 100;

function coverage(seeds: number) {
  let covered = 0;
  let total = 0;
  let estimateOutside = 0;
  for (let r = 0; r < REPLICATES; r++) {
    const { rows, etaStar } = synthEtaCells({ seeds, rngSeed: 1000 * seeds + r });
    const fit = fitSweep(rows, { lawBootstrap: 0, seed: r + 1 });
    for (const g of fit.etaOpt) {
      const truth = etaStar.get(`${g.tokens}/${g.batchSize}`) as number;
      total++;
      const ci = g.ci95;
      if (ci && ci[0] <= truth && truth <= ci[1]) covered++;
      if (!ci || g.etaOpt < ci[0] || g.etaOpt > ci[1]) estimateOutside++;
    }
  }
  return { rate: covered / total, total, estimateOutside };
}

describe("η_opt 95% interval coverage over 100 synthetic sweeps", () => {
  // Measured (this seeding): 1 seed 0.935, 2 seeds 0.953, 3 seeds 0.951, 8 seeds 0.934; the
  // earlier per-cell seed bootstrap covered 0.72 with 2 seeds and 0.85 with 3.
  for (const seeds of [1, 2, 3, 8])
    it(`covers the true η* in ≥90% of cells with ${seeds} seed(s) per lr, the estimate always inside`, () => {
      const c = coverage(seeds);
      expect(c.total).toBe(REPLICATES * 16);
      expect(c.rate).toBeGreaterThanOrEqual(0.9);
      expect(c.estimateOutside).toBe(0);
    });

  it("covers ≥90% for one-cell fits with one seed (noise from the cell's own band residuals)", () => {
    // Measured: 0.960 over 400 cells (a plain residual bootstrap covered 0.73).
    let covered = 0;
    let estimateOutside = 0;
    const n = 200;
    for (let r = 0; r < n; r++) {
      const { rows, etaStar } = synthEtaCells({ seeds: 1, rngSeed: 77 + r, tokens: [1e7], batchSizes: [16] });
      const e = estimateEtaOpt(
        rows.map((x) => ({ lr: x.lr as number, testLoss: x.testLoss as number })),
        { seed: r },
      );
      const truth = [...etaStar.values()][0] as number;
      const ci = e.ci95;
      if (ci && ci[0] <= truth && truth <= ci[1]) covered++;
      if (!ci || e.etaOpt < ci[0] || e.etaOpt > ci[1]) estimateOutside++;
    }
    expect(covered / n).toBeGreaterThanOrEqual(0.9);
    expect(estimateOutside).toBe(0);
  });
});

describe("a fitted minimum worse than a grid point", () => {
  // The extend case: a broad basin whose vertex has loss 2.510, and an lr outside its band with
  // 2.4445 (then a rise). The parabola's vertex must not be reported as the optimum.
  const lrs = Array.from({ length: 10 }, (_, i) => 2 ** (i - 12));
  const loss = (lr: number, i: number) => (i === 8 ? 2.4445 : i === 9 ? 2.6 : 2.51 + 0.1 * Math.log(lr / 2 ** -9) ** 2);
  const pts = lrs.map((lr, i) => ({ lr, testLoss: loss(lr, i) }));

  it("falls back to the best grid point with a grid-resolution interval", () => {
    const e = estimateEtaOpt(pts, { noiseSd: 0.02, noiseDof: 30 });
    expect(e.method).toBe("argmin");
    expect(e.fallback).toBe("vertex-above-grid-point");
    expect(e.etaOpt).toBe(2 ** -4);
    expect(e.lossAtOpt).toBe(2.4445);
    expect(e.ciMethod).toBe("grid");
    expect(e.ci95).toEqual([2 ** -5, 2 ** -3]);
  });

  it("warns in the sweep fit that the curve is not convex", () => {
    const rows = pts.map((p) => ({ model: "m", tokens: 25e3, batchSize: 8, ...p, status: "succeeded" }));
    const fit = fitSweep(rows, { lawBootstrap: 0 });
    expect(fit.etaOpt[0]?.etaOpt).toBe(2 ** -4);
    expect(fit.warnings.some((w) => w.includes("T=25000 β=8") && w.includes("not convex"))).toBe(true);
  });

  it("keeps a vertex whose in-band grid point is lower only by noise", () => {
    // Exact parabola plus a −0.03 nudge at one lr next to the vertex: within 2 noise sd (0.04).
    const near = lrs.slice(0, 8).map((lr, i) => ({
      lr,
      testLoss: 2.5 + 0.1 * Math.log(lr / 2 ** -8.5) ** 2 - (i === 4 ? 0.03 : 0),
    }));
    const e = estimateEtaOpt(near, { noiseSd: 0.02, noiseDof: 30 });
    expect(e.method).toBe("parabola");
    expect(e.fallback).toBeNull();
  });
});
