// Adaptive η search for one (model, T, β) cell (issue: study engine). Most points of a log-η grid
// sit far from the optimum; placing η's by bracketing around the current best finds η_opt to the
// same precision with about half the runs. The search is stateless: give it every finished
// observation of the cell and it says which learning rates to run next, or that it is done.
// Call it when a round has finished (no trial of the cell pending).
//
//   1. A coarse log grid over [from, to] (or, with a prediction from a fitted γ law, a grid
//      centred on it with a factor `centerSpacing` between points).
//   2. Past an edge (the best point is the smallest or largest η run): one more point beyond it
//      with the current spacing; a diverged run above bounds the range from above.
//   3. Otherwise refine: the midpoints in ln η between the best point and its two neighbours,
//      halving the spacing around the optimum each round (a successive-bracketing search), and
//      the parabola vertex when it falls outside both.
//   4. Done when the η_opt interval (estimateEtaOpt's ci95) lies within a factor `tolerance` of
//      η_opt on both sides and runs were made within a factor `resolution` of η_opt on both sides
//      (a parabola through a coarse grid can be confidently wrong when the loss is not parabolic in
//      ln η that far out), or when the budget of trials is spent.
import { type EtaOptEstimate, type EtaOptPoint, estimateEtaOpt } from "./etaOpt.ts";

export interface LrSearchOptions {
  /** Range of the coarse grid (learning rates). */
  from: number;
  to: number;
  /**
   * Stop when ci95 ⊂ [η_opt/tolerance, η_opt·tolerance] (e.g. 1.25). Must be > 1.
   */
  tolerance: number;
  /**
   * Runs must bracket η_opt within this factor on both sides before the search stops (default
   * tolerance², e.g. 1.5625: finer than the factor-2 grids of the paper).
   */
  resolution?: number;
  /** Trials of the cell at most, the coarse grid included. */
  maxTrials: number;
  /** Points of the coarse grid (default 5). */
  initialPoints?: number;
  /** η_opt predicted for this cell (e.g. β·a·T^b from smaller T): the coarse grid is centred on it. */
  center?: number;
  /** Factor between coarse points around `center` (default 2). */
  centerSpacing?: number;
  /** Run-to-run sd of the test loss pooled over the sweep (fitSweep's pooledLossNoise), when known. */
  noiseSd?: number;
}

export interface LrObservation {
  lr: number;
  /** null for a run that diverged or failed to produce a loss. */
  testLoss: number | null;
  diverged?: boolean;
  seed?: number;
}

export type LrSearchState = "coarse" | "extend-lower" | "extend-higher" | "refine" | "converged" | "budget";

export interface LrSearchStep {
  state: LrSearchState;
  done: boolean;
  /** Learning rates to run next (empty when done). */
  next: number[];
  /** The current η_opt estimate; null before three learning rates have a loss. */
  estimate: EtaOptEstimate | null;
}

/** Two learning rates within this factor count as the same point. */
const SAME_LR = 1.0001;

function coarseGrid(o: LrSearchOptions): number[] {
  const n = Math.max(3, o.initialPoints ?? 5);
  if (o.center !== undefined) {
    const f = Math.log(o.centerSpacing ?? 2);
    return Array.from({ length: n }, (_, k) => o.center! * Math.exp(f * (k - (n - 1) / 2)));
  }
  const a = Math.log(o.from);
  const b = Math.log(o.to);
  return Array.from({ length: n }, (_, k) => Math.exp(a + ((b - a) * k) / (n - 1)));
}

function validate(o: LrSearchOptions): void {
  if (!(o.from > 0 && o.to > o.from)) throw new Error(`lr search: need 0 < from < to (got ${o.from}, ${o.to})`);
  if (!(o.tolerance > 1)) throw new Error(`lr search: tolerance must be a factor > 1 (got ${o.tolerance})`);
  if (!(Number.isInteger(o.maxTrials) && o.maxTrials >= 3))
    throw new Error(`lr search: maxTrials must be an integer ≥ 3 (got ${o.maxTrials})`);
}

/** The next learning rates for a cell, from everything it has run so far. Pure and deterministic. */
export function nextLrs(observations: LrObservation[], options: LrSearchOptions): LrSearchStep {
  validate(options);
  const tried = [...new Set(observations.map((o) => o.lr))].sort((a, b) => a - b);
  const isNew = (lr: number) => tried.every((t) => Math.max(lr / t, t / lr) > SAME_LR);
  const budget = options.maxTrials - observations.length;
  const finish = (state: LrSearchState, estimate: EtaOptEstimate | null): LrSearchStep => ({
    state,
    done: true,
    next: [],
    estimate,
  });
  const propose = (state: LrSearchState, lrs: number[], estimate: EtaOptEstimate | null): LrSearchStep => {
    const fresh = lrs.filter(isNew).slice(0, Math.max(0, budget));
    if (!fresh.length) return finish(budget <= 0 ? "budget" : "converged", estimate);
    return { state, done: false, next: fresh, estimate };
  };

  const coarse = coarseGrid(options).filter(isNew);
  if (observations.length === 0 || (coarse.length && tried.length < 3)) return propose("coarse", coarse, null);

  const diverged = observations.filter((o) => o.diverged || o.testLoss === null || !Number.isFinite(o.testLoss));
  const lowestDiverged = diverged.length ? Math.min(...diverged.map((o) => o.lr)) : Number.POSITIVE_INFINITY;
  const points: EtaOptPoint[] = observations
    .filter((o) => !diverged.includes(o))
    .map((o) => ({ lr: o.lr, testLoss: o.testLoss as number, ...(o.seed !== undefined ? { seed: o.seed } : {}) }));
  const finite = [...new Set(points.map((p) => p.lr))].sort((a, b) => a - b);
  const spacing = finite.length >= 2 ? (finite.at(-1)! / finite[0]!) ** (1 / (finite.length - 1)) : 2;
  if (finite.length < 3) {
    // Too few losses for a parabola (the top of the grid diverged): fill in below the divergence.
    const top = Math.min(finite[0] ?? lowestDiverged, lowestDiverged);
    return propose("coarse", [top / spacing, top / spacing ** 2], null);
  }
  const estimate = estimateEtaOpt(points, {
    divergedLrs: diverged.map((o) => o.lr),
    ...(options.noiseSd !== undefined ? { noiseSd: options.noiseSd } : {}),
  });
  if (budget <= 0) return finish("budget", estimate);

  if (estimate.extend === "higher") {
    const next = finite.at(-1)! * spacing;
    if (next < lowestDiverged) return propose("extend-higher", [next], estimate);
  }
  if (estimate.extend === "lower") return propose("extend-lower", [finite[0]! / spacing], estimate);

  const ci = estimate.ci95;
  const tol = Math.log(options.tolerance);
  const eta = estimate.etaOpt;
  const resolution = options.resolution ?? options.tolerance ** 2;
  const lower = finite.filter((lr) => lr <= eta).at(-1);
  const upper = finite.find((lr) => lr >= eta);
  const bracketed =
    lower !== undefined && upper !== undefined && eta / lower <= resolution && upper / eta <= resolution;
  if (bracketed && ci && Math.log(eta / ci[0]) <= tol && Math.log(ci[1] / eta) <= tol)
    return finish("converged", estimate);

  // Bracket the best point: halve the log spacing on both sides of it.
  const means = finite.map((lr) => {
    const ls = points.filter((p) => p.lr === lr).map((p) => p.testLoss);
    return ls.reduce((s, v) => s + v, 0) / ls.length;
  });
  const best = means.indexOf(Math.min(...means));
  const lrs: number[] = [];
  if (best > 0) lrs.push(Math.sqrt(finite[best]! * finite[best - 1]!));
  if (best < finite.length - 1) lrs.push(Math.sqrt(finite[best]! * finite[best + 1]!));
  const below = lrs[0] ?? finite[best]!;
  const above = lrs.at(-1) ?? finite[best]!;
  if (estimate.method === "parabola" && (eta < below || eta > above) && eta < lowestDiverged) lrs.push(eta);
  const fresh = lrs.filter(isNew);
  // Spacing already finer than the noise can resolve: repeat the best point with another seed.
  if (!fresh.length) return { state: "refine", done: false, next: [finite[best]!], estimate };
  return propose("refine", fresh, estimate);
}

/**
 * Schedule-aware early stopping of one cell's trunks (issue: study engine). Each learning rate's
 * trunk has just been scored by a decay branch at the same T (its loss at that T, a fair score
 * under WSD, unlike the loss in the stable phase); which trunks go on to larger T? Diverged runs
 * stop at once. Of the rest, `keep` consecutive learning rates around the best go on: one above it
 * and the others below, because η_opt falls as T grows (γ = a·T^b with b < 0). The others are
 * pruned: they still bound the range, but never enter the η_opt parabola at a larger T.
 */
export function survivingLrs(observations: LrObservation[], keep = 4): number[] {
  const finite = observations.filter((o) => !o.diverged && o.testLoss !== null && Number.isFinite(o.testLoss));
  const lrs = [...new Set(finite.map((o) => o.lr))].sort((a, b) => a - b);
  if (lrs.length <= keep) return lrs;
  const mean = (lr: number) => {
    const ls = finite.filter((o) => o.lr === lr).map((o) => o.testLoss as number);
    return ls.reduce((s, v) => s + v, 0) / ls.length;
  };
  const means = lrs.map(mean);
  const best = means.indexOf(Math.min(...means));
  const start = Math.min(Math.max(0, best - (keep - 2)), lrs.length - keep);
  return lrs.slice(start, start + keep);
}
