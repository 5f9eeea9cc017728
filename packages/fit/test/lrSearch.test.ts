// The adaptive η search on synthetic loss surfaces with a known optimum:
// loss = L0 + k·(ln η − ln η*)² + noise, and divergence above a threshold.
import { describe, expect, it } from "vitest";
import { type LrObservation, type LrSearchOptions, nextLrs, survivingLrs } from "../src/lrSearch.ts";
import { mulberry32, normal } from "../src/rng.ts";

interface Surface {
  etaStar: number;
  curvature: number;
  noiseSd: number;
  divergeAbove?: number;
}

function runSearch(surface: Surface, options: LrSearchOptions, seed: number) {
  const rand = mulberry32(seed);
  const obs: LrObservation[] = [];
  const seen = new Map<number, number>();
  for (let round = 0; round < 50; round++) {
    const step = nextLrs(obs, options);
    if (step.done) return { step, obs, rounds: round };
    for (const lr of step.next) {
      const s = seen.get(lr) ?? 0;
      seen.set(lr, s + 1);
      if (surface.divergeAbove !== undefined && lr > surface.divergeAbove) {
        obs.push({ lr, testLoss: null, diverged: true, seed: s });
        continue;
      }
      // Steeper above the optimum than below, as real lr curves are: not a parabola far out.
      const d = Math.log(lr / surface.etaStar);
      const loss = 2.5 + surface.curvature * d * d * (d > 0 ? 1 + 0.5 * d : 1) + surface.noiseSd * normal(rand);
      obs.push({ lr, testLoss: loss, seed: s });
    }
  }
  throw new Error("the search did not stop");
}

const log2Error = (a: number, b: number) => Math.abs(Math.log2(a / b));

describe("nextLrs", () => {
  it("starts with a coarse log grid over the range", () => {
    const step = nextLrs([], { from: 1e-4, to: 1e-1, tolerance: 1.25, maxTrials: 20 });
    expect(step.state).toBe("coarse");
    expect(step.next.map((lr) => Number(lr.toPrecision(3)))).toEqual([1e-4, 5.62e-4, 3.16e-3, 1.78e-2, 1e-1]);
  });

  it("converges on the optimum with fewer runs than a grid of the same resolution", () => {
    const options = { from: 1e-4, to: 1e-1, tolerance: 1.25, maxTrials: 24 };
    const trials: number[] = [];
    for (let seed = 1; seed <= 20; seed++) {
      const etaStar = 3e-3 * 1.3 ** (seed % 5);
      const { step, obs } = runSearch({ etaStar, curvature: 0.05, noiseSd: 0.005 }, options, seed);
      expect(step.state).toBe("converged");
      // Within the tolerance's factor on either side of the truth (1.25² = 0.64 in log₂).
      expect(log2Error(step.estimate!.etaOpt, etaStar)).toBeLessThan(2 * Math.log2(1.25));
      trials.push(obs.length);
    }
    // A log grid over the same three decades at the resolution it stops at (1.25² = 1.5625) has 16 points.
    const mean = trials.reduce((s, n) => s + n, 0) / trials.length;
    // The search stops at about 12 (three quarters of the grid's runs) with the fit's honest intervals.
    expect(mean).toBeLessThan(13);
  });

  it("extends the range past an edge until it brackets an optimum outside it", () => {
    const { step, obs } = runSearch(
      { etaStar: 0.4, curvature: 0.05, noiseSd: 0.003 },
      { from: 1e-4, to: 1e-1, tolerance: 1.25, maxTrials: 30 },
      7,
    );
    expect(obs.some((o) => o.lr > 0.4)).toBe(true);
    expect(step.state).toBe("converged");
    expect(log2Error(step.estimate!.etaOpt, 0.4)).toBeLessThan(0.5);
  });

  it("never proposes a learning rate at or above one that diverged", () => {
    const { obs } = runSearch(
      { etaStar: 0.05, curvature: 0.05, noiseSd: 0.003, divergeAbove: 0.06 },
      { from: 1e-3, to: 1e-1, tolerance: 1.25, maxTrials: 20 },
      3,
    );
    const firstDiverged = Math.min(...obs.filter((o) => o.diverged).map((o) => o.lr));
    const after = obs.slice(obs.findIndex((o) => o.diverged) + 1);
    expect(after.every((o) => o.lr < firstDiverged)).toBe(true);
  });

  it("centres the first grid on a prediction and stops at the trial budget", () => {
    const first = nextLrs([], { from: 1e-4, to: 1e-1, tolerance: 1.25, maxTrials: 6, center: 0.01 });
    expect(first.next.map((lr) => Number(lr.toPrecision(3)))).toEqual([0.0025, 0.005, 0.01, 0.02, 0.04]);
    const { step, obs } = runSearch(
      { etaStar: 0.01, curvature: 0.02, noiseSd: 0.05 },
      { from: 1e-4, to: 1e-1, tolerance: 1.05, maxTrials: 6, center: 0.01 },
      1,
    );
    expect(step.state).toBe("budget");
    expect(obs.length).toBe(6);
  });
});

describe("survivingLrs", () => {
  const cell = (lrs: number[], best: number) => lrs.map((lr) => ({ lr, testLoss: 3 + Math.log(lr / best) ** 2 / 4 }));
  const grid = Array.from({ length: 8 }, (_, k) => 0.0025 * 2 ** k);

  it("keeps the best learning rate, one above it and the rest below (η_opt falls with T)", () => {
    expect(survivingLrs(cell(grid, 0.02), 4)).toEqual([0.005, 0.01, 0.02, 0.04]);
  });

  it("stops diverged runs at once and keeps the window inside the grid at its edges", () => {
    const obs = [...cell(grid.slice(0, 6), 0.0025), { lr: grid[6]!, testLoss: null, diverged: true }];
    expect(survivingLrs(obs, 4)).toEqual(grid.slice(0, 4));
    expect(survivingLrs(cell(grid, 1), 4)).toEqual(grid.slice(4));
  });

  it("keeps everything when there are no more runs than it keeps", () => {
    expect(survivingLrs(cell(grid.slice(0, 3), 0.005), 4)).toEqual(grid.slice(0, 3));
  });
});
