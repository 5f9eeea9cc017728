// Search steps of a running sweep (issue: study engine, adaptive η): after a refit, every
// (model, T, β) cell of a sweep whose lr axis is searched that has no trial pending gets its next
// learning rates from nextLrs (lrSearch.ts), given every finished trial of the cell. Pure: the
// orchestrator (packages/orchestrator search.ts) reads the trials and the fit, inserts the points
// this plans as queued trials, and completes the sweep when every cell is done.
//
//   - succeeded trials are observations with their test loss; diverged ones bound the range from
//     above; failed and cancelled ones inform nothing, but their η is not placed again;
//   - the fitted pooled noise of the sweep (SweepFit.noise.sd) sets the η_opt interval;
//   - a γ law fitted on the cells of smaller T of the same model (γ = a·T^b, least squares in
//     log-log) centres the coarse grid of a cell that has not run one: center = β·a·T^b;
//   - a new η runs once per seed of the document; an η the search asks to repeat (finer than the
//     noise resolves) runs with the smallest seed it has not run with yet.

import type { SearchPoint } from "@powersweep/spec";
import type { GammaRow } from "./gamma.ts";
import { type LrObservation, type LrSearchState, nextLrs } from "./lrSearch.ts";

/** A trial of the sweep, as the search reads it. */
export interface SearchTrial {
  model: string;
  tokens: number;
  batchSize: number;
  lr: number | null;
  seed: number;
  status: string;
  testLoss: number | null;
}

export interface SearchSettings {
  from: number;
  to: number;
  tolerance: number;
  maxTrials: number;
  initialPoints: number;
}

export interface SearchPlanOptions {
  search: SearchSettings;
  /** The document's seeds: each new η runs once per seed. */
  seeds: number[];
  /** The sweep's fitted γ table (SweepFit.gamma), when there is one. */
  gamma?: GammaRow[];
  /** The sweep's pooled run-to-run sd of the test loss (SweepFit.noise.sd), when known. */
  noiseSd?: number | null;
}

/** A trial to add: its cell, η and seed, and the step that placed it. */
export type SearchPlacement = SearchPoint;

export interface SearchCellPlan {
  model: string;
  tokens: number;
  batchSize: number;
  /** "pending": a trial of the cell is queued or running; "done": the search of the cell has ended. */
  status: "pending" | "step" | "done";
  /** nextLrs's state; null for a pending cell. "stalled": every η it asked for was run already. */
  state: LrSearchState | "stalled" | null;
  /** The η_opt the γ law from smaller T predicts for the cell, when there is one. */
  center: number | null;
  etaOpt: number | null;
  placements: SearchPlacement[];
}

export interface SearchPlan {
  cells: SearchCellPlan[];
  placements: SearchPlacement[];
  /** Every cell's search has ended: nothing to add, nothing pending. */
  done: boolean;
}

/** Two learning rates within this factor are the same η (as nextLrs counts them). */
const SAME_LR = 1.0001;
const sameLr = (a: number, b: number) => Math.max(a / b, b / a) <= SAME_LR;

const PENDING = new Set(["queued", "running"]);

/**
 * γ = a·T^b by least squares in log-log over the γ rows of `model` at T < `tokens`; null with
 * fewer than two such token budgets.
 */
export function gammaLawBelow(gamma: GammaRow[], model: string, tokens: number): { a: number; b: number } | null {
  const rows = gamma.filter((r) => r.model === model && r.tokens < tokens && r.gamma > 0 && r.tokens > 0);
  if (new Set(rows.map((r) => r.tokens)).size < 2) return null;
  const xs = rows.map((r) => Math.log(r.tokens));
  const ys = rows.map((r) => Math.log(r.gamma));
  const mx = xs.reduce((s, x) => s + x, 0) / xs.length;
  const my = ys.reduce((s, y) => s + y, 0) / ys.length;
  let sxy = 0;
  let sxx = 0;
  xs.forEach((x, i) => {
    sxy += (x - mx) * ((ys[i] as number) - my);
    sxx += (x - mx) ** 2;
  });
  const b = sxy / sxx;
  const a = Math.exp(my - b * mx);
  return Number.isFinite(a) && Number.isFinite(b) ? { a, b } : null;
}

/** The next trials of every cell of a searched sweep, from its trials and its latest fit. */
export function planSearchSteps(trials: SearchTrial[], options: SearchPlanOptions): SearchPlan {
  const cells = new Map<string, SearchTrial[]>();
  for (const t of trials) {
    if (t.lr === null) continue;
    const k = `${t.model}\u0000${t.tokens}\u0000${t.batchSize}`;
    const list = cells.get(k);
    if (list) list.push(t);
    else cells.set(k, [t]);
  }
  const seeds = options.seeds.length ? options.seeds : [0];
  const out: SearchCellPlan[] = [];
  for (const list of cells.values()) {
    const { model, tokens, batchSize } = list[0] as SearchTrial;
    const law = options.gamma ? gammaLawBelow(options.gamma, model, tokens) : null;
    const center = law ? batchSize * law.a * tokens ** law.b : null;
    const base = { model, tokens, batchSize, center };
    if (list.some((t) => PENDING.has(t.status))) {
      out.push({ ...base, status: "pending", state: null, etaOpt: null, placements: [] });
      continue;
    }
    const observations: LrObservation[] = [];
    for (const t of list) {
      const lr = t.lr as number;
      if (t.status === "diverged") observations.push({ lr, testLoss: null, diverged: true, seed: t.seed });
      else if (t.status === "succeeded" && t.testLoss !== null && Number.isFinite(t.testLoss))
        observations.push({ lr, testLoss: t.testLoss, seed: t.seed });
    }
    const step = nextLrs(observations, {
      ...options.search,
      ...(center !== null && Number.isFinite(center) && center > 0 ? { center } : {}),
      ...(options.noiseSd != null && options.noiseSd > 0 ? { noiseSd: options.noiseSd } : {}),
    });
    const etaOpt = step.estimate?.etaOpt ?? null;
    if (step.done) {
      out.push({ ...base, status: "done", state: step.state, etaOpt, placements: [] });
      continue;
    }
    const placements: SearchPlacement[] = [];
    const placedBy = `search:${step.state}`;
    for (const lr of step.next) {
      const runs = list.filter((t) => sameLr(t.lr as number, lr));
      if (!runs.length) {
        for (const seed of seeds) placements.push({ model, tokens, batchSize, lr, seed, placedBy });
        continue;
      }
      // Asked again for an η it has run: only a repeat of a finished run with a fresh seed.
      if (!runs.some((t) => t.status === "succeeded")) continue;
      const used = new Set(runs.map((t) => t.seed));
      let seed = 0;
      while (used.has(seed)) seed++;
      placements.push({ model, tokens, batchSize, lr: runs[0]?.lr as number, seed, placedBy });
    }
    if (!placements.length) out.push({ ...base, status: "done", state: "stalled", etaOpt, placements });
    else out.push({ ...base, status: "step", state: step.state, etaOpt, placements });
  }
  const placements = out.flatMap((c) => c.placements);
  return { cells: out, placements, done: out.every((c) => c.status === "done") };
}
