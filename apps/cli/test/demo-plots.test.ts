// The demo's figures (no stack needed): Fig. 2 for the β with the most complete curves, fitted
// parabolas drawn, B_opt edge marks.
import { fitSweep } from "@powersweep/fit";
import { describe, expect, it } from "vitest";
import { demoFigures, type PlotTrial } from "../src/demo-plots.ts";

// 3 T × 3 β × 6 lrs in factors of 2, the optimum inside the grid; at β = 8 (the middle) the two
// largest lrs diverged at every T, so its curves are the least complete.
function trials(): PlotTrial[] {
  const out: PlotTrial[] = [];
  for (const tokens of [25e3, 5e4, 1e5])
    for (const batchSize of [4, 8, 16])
      for (let k = 0; k < 6; k++) {
        const lr = 0.0025 * 2 ** k;
        const diverged = batchSize === 8 && k >= 4;
        const etaStar = 0.001 * batchSize * (tokens / 25e3) ** -0.3;
        out.push({
          model: "d32",
          tokens,
          batchSize,
          lr,
          testLoss: diverged ? null : 2.4 + 0.002 * (16 / batchSize) + 0.1 * Math.log(lr / etaStar) ** 2,
          status: diverged ? "diverged" : "succeeded",
        });
      }
  return out;
}

describe("demo figures", () => {
  const ts = trials();
  const fit = fitSweep(
    ts.map((t) => ({ ...t })),
    { lawBootstrap: 0, etaBootstrap: 20 },
  );
  const figures = demoFigures(fit, ts);

  it("draws Fig. 2 for the β with the most complete curves, not the middle one", () => {
    const fig2 = figures["loss-vs-lr-per-tokens-d32.svg"] as string;
    expect(fig2).toMatch(/Test loss vs η per T \(β=(4|16) sequences, d32\)/);
    expect(fig2).not.toMatch(/β=8 sequences/);
  });

  it("draws the fitted parabola of every curve with an interior optimum", () => {
    const fig2 = figures["loss-vs-lr-per-tokens-d32.svg"] as string;
    const parabolas = fig2.match(/data-series="T=[^"]+ parabola"/g) ?? [];
    const interior = fit.etaOpt.filter(
      (g) => g.method === "parabola" && g.batchSize === Number(fig2.match(/β=(\d+) sequences/)?.[1]),
    );
    expect(interior.length).toBeGreaterThan(0);
    expect(parabolas).toHaveLength(interior.length);
  });

  it("marks B_opt on the edge of the batch-size grid", () => {
    // Lower loss at larger β at every T: B_opt = 16, the top of the grid.
    expect(fit.batchSizeLaw.table.every((r) => r.batchSize === 16 && r.onEdge === "higher")).toBe(true);
    expect(figures["batch-size-vs-tokens.svg"]).toMatch(/class="edge-mark edge-up"/);
  });
});
