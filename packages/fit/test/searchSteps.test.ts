// Search steps of a running sweep: which cells get new learning rates after a refit, with which
// seeds and marks, centred by the γ law of smaller T; the sweep's search ends when every cell does.
import { describe, expect, it } from "vitest";
import type { GammaRow } from "../src/gamma.ts";
import { gammaLawBelow, planSearchSteps, type SearchTrial } from "../src/searchSteps.ts";

const search = { from: 1e-3, to: 1e-1, tolerance: 1.25, maxTrials: 8, initialPoints: 5 };
const coarse = [1e-3, 3.16228e-3, 1e-2, 3.16228e-2, 1e-1];

/** A cell's trials on the surface L = 3 + 0.3·(ln η − ln η*)². */
function cell(etaStar: number, lrs: number[], over: Partial<SearchTrial> = {}): SearchTrial[] {
  return lrs.map((lr) => ({
    model: "d32",
    tokens: 1e5,
    batchSize: 8,
    lr,
    seed: 0,
    status: "succeeded",
    testLoss: 3 + 0.3 * Math.log(lr / etaStar) ** 2,
    ...over,
  }));
}

const gammaRow = (tokens: number, gamma: number): GammaRow => ({
  model: "d32",
  tokens,
  gamma,
  gammaGeoMean: gamma,
  batchSizesUsed: [8],
  gammas: [gamma],
});

describe("planSearchSteps", () => {
  it("leaves a cell with a pending trial alone, and the sweep not done", () => {
    const trials = [...cell(0.01, coarse.slice(0, 4)), ...cell(0.01, [0.1], { status: "running", testLoss: null })];
    const plan = planSearchSteps(trials, { search, seeds: [0] });
    expect(plan.cells[0]?.status).toBe("pending");
    expect(plan.placements).toEqual([]);
    expect(plan.done).toBe(false);
  });

  it("refines around the best point of a finished coarse grid, marked search:refine, once per seed", () => {
    const plan = planSearchSteps(cell(0.01, coarse), { search, seeds: [0, 1] });
    const c = plan.cells[0]!;
    expect(c.status).toBe("step");
    expect(c.placements.length).toBeGreaterThan(0);
    for (const p of c.placements) {
      expect(p.placedBy).toBe("search:refine");
      expect(p.lr).toBeGreaterThan(3.16228e-3);
      expect(p.lr).toBeLessThan(3.16228e-2);
    }
    const lrs = [...new Set(c.placements.map((p) => p.lr))];
    expect(c.placements.map((p) => p.seed).sort()).toEqual(lrs.flatMap(() => [0, 1]).sort());
    expect(plan.done).toBe(false);
  });

  it("extends the range when the optimum lies past the top of the grid", () => {
    const plan = planSearchSteps(cell(1, coarse), { search, seeds: [0] });
    const c = plan.cells[0]!;
    expect(c.state).toBe("extend-higher");
    expect(c.placements[0]?.placedBy).toBe("search:extend-higher");
    expect(c.placements[0]!.lr).toBeGreaterThan(0.1);
  });

  it("does not extend past a diverged run", () => {
    const trials = [
      ...cell(1, coarse.slice(0, 4)),
      ...cell(1, [0.1, 0.3], { status: "diverged", testLoss: null }),
      ...cell(1, [0.0005]),
    ];
    const plan = planSearchSteps(trials, { search, seeds: [0] });
    for (const p of plan.placements) expect(p.lr).toBeLessThan(0.1);
  });

  it("is done with a cell whose search converged, and a sweep whose cells all are", () => {
    // Points within a factor 1.25 of η* on both sides, no noise: the interval is tight.
    const lrs = [...coarse, 0.008, 0.0125, 0.01];
    const plan = planSearchSteps(cell(0.01, lrs), { search, seeds: [0], noiseSd: 0.001 });
    expect(plan.cells[0]?.status).toBe("done");
    expect(plan.cells[0]?.etaOpt).toBeCloseTo(0.01, 3);
    expect(plan.done).toBe(true);
    expect(plan.placements).toEqual([]);
  });

  it("stops a cell at its trial budget", () => {
    const lrs = [...coarse, 0.02, 0.005, 0.04];
    const plan = planSearchSteps(cell(0.011, lrs), { search: { ...search, maxTrials: 8 }, seeds: [0] });
    expect(plan.cells[0]?.status).toBe("done");
    expect(plan.cells[0]?.state).toBe("budget");
  });

  it("is deterministic: the same trials plan the same placements (a rerun adds the same keys)", () => {
    const trials = cell(0.01, coarse);
    expect(planSearchSteps(trials, { search, seeds: [0] })).toEqual(planSearchSteps(trials, { search, seeds: [0] }));
  });

  it("never places again an η whose only run failed: the cell ends as stalled", () => {
    // A finished coarse grid whose refinement points both failed (crashed): asked again, not re-placed.
    const first = planSearchSteps(cell(0.01, coarse), { search, seeds: [0] }).placements.map((p) => p.lr);
    const trials = [...cell(0.01, coarse), ...cell(0.01, first, { status: "failed", testLoss: null })];
    const plan = planSearchSteps(trials, { search, seeds: [0] });
    expect(plan.cells[0]?.state).toBe("stalled");
    expect(plan.done).toBe(true);
  });

  it("centres a cell without its coarse grid on the γ law fitted at smaller T", () => {
    // γ = 0.5·T^-0.5 at T = 1e4, 4e4 → predicted η at T = 1.6e5, β = 8: 8·0.5·(1.6e5)^-0.5 = 0.01.
    const gamma = [gammaRow(1e4, 0.5 * 1e4 ** -0.5), gammaRow(4e4, 0.5 * 4e4 ** -0.5), gammaRow(1.6e5, 1)];
    const law = gammaLawBelow(gamma, "d32", 1.6e5)!;
    expect(law.b).toBeCloseTo(-0.5, 6);
    expect(law.a).toBeCloseTo(0.5, 6);
    // The cell ran one trial so far (the rest failed to start): its coarse grid is centred on 0.01.
    const trials = cell(0.01, [1e-3], { tokens: 1.6e5, status: "failed", testLoss: null });
    const plan = planSearchSteps(trials, { search, seeds: [0], gamma });
    const c = plan.cells[0]!;
    expect(c.center).toBeCloseTo(0.01, 8);
    expect(c.state).toBe("coarse");
    const lrs = c.placements.map((p) => p.lr).sort((a, b) => a - b);
    expect(Math.sqrt(lrs[0]! * lrs.at(-1)!)).toBeCloseTo(0.01, 8);
    // Without two smaller T there is no law.
    expect(gammaLawBelow(gamma, "d32", 4e4)).toBeNull();
  });
});
