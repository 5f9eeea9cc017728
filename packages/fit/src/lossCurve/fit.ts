// Fitting a loss-curve law (Tissue et al. or the multi-power law) to the stored curves of one group
// of runs (one (model, β, η) group of an lr-grid sweep, or any set of runs whose loss depends on
// the schedule alone), by robust least squares on log loss as both papers do (Huber, here with a
// threshold from the residuals' own scale), with 95% parameter intervals from the Jacobian and a
// Student-t quantile.
//
// The laws describe the expected training loss after u optimiser updates. A train-loss point the
// trainer reports at step s is the loss of the batch before update s, so it sits at u = s − 1; a
// held-out (test) point reported at step s is measured after s updates. Test points get one extra
// parameter, testOffset (test − train loss), so a fit on train curves predicts final test losses.
import { tQuantile975 } from "../rng.ts";
import { type LrTrace, lrTrace, type RunShape } from "./areas.ts";
import { invert, jacobian, robustLeastSquares, solve } from "./lm.ts";
import { type LrDrops, lossDropSum, lrDrops, type MultiPowerParams } from "./multiPower.ts";
import { annealingArea, TISSUE_LAMBDA, type TissueParams } from "./tissue.ts";

export type CurveLawName = "tissue" | "multi-power";
export const CURVE_LAWS: readonly CurveLawName[] = ["tissue", "multi-power"];

export interface CurvePoint {
  /** The trainer's step count when the loss was reported. */
  step: number;
  loss: number;
  /**
   * train: loss of the batch before update `step`; test: held-out loss after `step` updates (the
   * trial's test set); eval: held-out loss after `step` updates on another held-out set (the subset
   * the trainers evaluate during training), which gets its own offset.
   */
  split: "train" | "eval" | "test";
}

export interface ObservedCurve extends RunShape {
  points: CurvePoint[];
}

export interface LossCurveFitOptions {
  /** Default "multi-power". */
  law?: CurveLawName;
  /** Tissue's momentum decay factor λ (default 0.999, the paper's). */
  lambda?: number;
  /**
   * Points before this many tokens are left out: the first updates' plateau at ln(vocab) and fast
   * drop are outside what either law models. Default: a quarter of the longest fitted curve's
   * tokens (on the bench's real runs, a tenth fitted the transient and over-predicted the fall at
   * 2·T, a half fitted the flat tail and under-predicted it), and never before the end of warmup.
   */
  minTokens?: number;
  /** minTokens as a fraction of the longest fitted curve's tokens (default 0.25); minTokens wins. */
  minTokensFraction?: number;
  /**
   * Weight of each held-out (test or eval) point against a train point. A train point is one
   * batch's loss; a held-out point is measured on thousands of tokens and is what predictions are
   * for, so it may be worth more. "auto": the ratio of the two residual variances after a first
   * fit (inverse-variance weighting), between 1 and the number of train points per held-out point.
   * Default 1: on the benchmark's validation split (bench/curves.ts) "auto" predicted no better.
   */
  heldOutWeight?: number | "auto";
  /**
   * Log-normal priors on positive parameters (A, alpha, B, C, beta, gamma; C of tissue is not
   * positive), added to (and overriding) the law's own: how fitLossCurveGroups shares an exponent
   * across lr groups.
   */
  priors?: Record<string, { mean: number; sdLn: number }>;
}

export interface LossCurveFit {
  law: CurveLawName;
  /** Natural parameters: L0, A, alpha, C (tissue) or L0, A, alpha, B, C, beta, gamma (multi-power). */
  params: Record<string, number>;
  /** 95% intervals (Jacobian, t-quantile); null when the Jacobian is singular (a parameter the data cannot fix). */
  ci95: Record<string, [number, number]> | null;
  /** Held-out minus train loss, fitted on the test points; null when no curve has one. */
  testOffset: number | null;
  testOffsetCi95: [number, number] | null;
  /** Eval-subset minus train loss, fitted on the eval points; null when no curve has one. */
  evalOffset: number | null;
  /** The weight each held-out point had against a train point. */
  heldOutWeight: number;
  /** Tissue's λ (null for multi-power). */
  lambda: number | null;
  /** The parameters as fitted (log of the positive ones; then testOffset, then evalOffset, when present). */
  theta: number[];
  /** Covariance of theta; null when singular. */
  covariance: number[][] | null;
  /** Robust sd of the log-loss residuals (1.4826·MAD). */
  residualScale: number;
  /** Residual degrees of freedom (points − parameters). */
  dof: number;
  nPoints: number;
  nCurves: number;
  /** The tokens one update sees in the fitted runs (areas are per update; see areas.ts). */
  tokensPerStep: number;
}

/** The parameter names of a law, in theta order. */
export const LAW_PARAMS: Record<CurveLawName, readonly string[]> = {
  tissue: ["L0", "A", "alpha", "C"],
  "multi-power": ["L0", "A", "alpha", "B", "C", "beta", "gamma"],
};
/** Parameters fitted as logs (kept positive). */
const LOG_PARAMS = new Set(["A", "alpha", "B", "C", "beta", "gamma"]);
const isLogParam = (law: CurveLawName, name: string) => LOG_PARAMS.has(name) && !(law === "tissue" && name === "C");

/** A run's lr trace with the per-law precomputation. */
export interface PreparedRun {
  trace: LrTrace;
  s2: Float64Array | null;
  drops: LrDrops | null;
}

export function prepareRun(run: RunShape, law: CurveLawName, lambda = TISSUE_LAMBDA): PreparedRun {
  const trace = lrTrace(run);
  return {
    trace,
    s2: law === "tissue" ? annealingArea(trace, lambda) : null,
    drops: law === "multi-power" ? lrDrops(trace) : null,
  };
}

export function paramsFromTheta(law: CurveLawName, theta: ArrayLike<number>): Record<string, number> {
  const out: Record<string, number> = {};
  LAW_PARAMS[law].forEach((name, j) => {
    out[name] = isLogParam(law, name) ? Math.exp(theta[j] as number) : (theta[j] as number);
  });
  return out;
}

/** Expected train loss after u updates (u ≥ 1) under the law's natural parameters. */
export function lawLoss(law: CurveLawName, params: Record<string, number>, run: PreparedRun, u: number): number {
  const area = run.trace.area[u] as number;
  if (law === "tissue") {
    const p = params as unknown as TissueParams;
    return p.L0 + p.A * area ** -p.alpha - p.C * ((run.s2 as Float64Array)[u] as number);
  }
  const p = params as unknown as MultiPowerParams;
  return p.L0 + p.A * area ** -p.alpha - p.B * lossDropSum(p, run.trace, run.drops as LrDrops, u);
}

interface Obs {
  run: number;
  u: number;
  logLoss: number;
  /** Index of the offset parameter this point adds (test or eval offset), or -1 for a train point. */
  offset: number;
}

/** Which offsets a set of points needs, and their theta indices after the law's parameters. */
interface Offsets {
  test: number | null;
  eval: number | null;
  count: number;
}

/** Usable points: train points first (the robust rows), then the held-out ones. */
function observations(curves: ObservedCurve[], runs: PreparedRun[], minTokens: number, nLaw: number) {
  const kept: Array<{ run: number; u: number; logLoss: number; split: CurvePoint["split"] }> = [];
  curves.forEach((c, r) => {
    const { trace } = runs[r] as PreparedRun;
    for (const pt of c.points) {
      if (!(Number.isFinite(pt.loss) && pt.loss > 0)) continue;
      const heldOut = pt.split !== "train";
      const u = Math.min(trace.steps, heldOut ? pt.step : pt.step - 1);
      if (u < 1) continue;
      if (u * trace.tokensPerStep < minTokens || (!heldOut && u <= trace.warmupSteps)) continue;
      kept.push({ run: r, u, logLoss: Math.log(pt.loss), split: pt.split });
    }
  });
  const has = (split: CurvePoint["split"]) => kept.some((k) => k.split === split);
  const offsets: Offsets = { test: null, eval: null, count: 0 };
  if (has("test")) offsets.test = nLaw + offsets.count++;
  if (has("eval")) offsets.eval = nLaw + offsets.count++;
  const obs: Obs[] = [];
  for (const split of ["train", "test", "eval"] as const)
    for (const k of kept)
      if (k.split === split)
        obs.push({
          run: k.run,
          u: k.u,
          logLoss: k.logLoss,
          offset: split === "train" ? -1 : ((split === "test" ? offsets.test : offsets.eval) as number),
        });
  return { obs, offsets, nTrain: kept.filter((k) => k.split === "train").length };
}

/**
 * Weak priors on the multi-power law's decay parameters, at the values the paper fitted
 * (Luo et al. report β ≈ 0.6, γ ≈ 0.6, C ≈ 2 for 25M–400M models): log-normal, sd 1 in ln (a factor
 * e either way is one sd). A few short WSD runs barely constrain C, β and γ (only C·β matters while
 * C·x is small), and without them the fit drifts along that valley to values that extrapolate to
 * other schedules badly. The data overrule them wherever they fix a parameter.
 */
export const MULTI_POWER_PRIORS: Record<string, { mean: number; sdLn: number }> = {
  C: { mean: 2, sdLn: 1 },
  beta: { mean: 0.6, sdLn: 1 },
  gamma: { mean: 0.6, sdLn: 1 },
};

/**
 * Residuals ln(pred) − ln(obs) for a theta (held-out points scaled by √weight), then one residual
 * per prior, σ·(ln θ − ln μ)/sd, so that Σr² = σ²·(χ² of the data + χ² of the priors): the MAP fit
 * under Gaussian noise of sd σ (the noise scale of the data, `noiseScale`).
 */
function residualFn(
  law: CurveLawName,
  runs: PreparedRun[],
  obs: Obs[],
  noiseScale: number,
  /** √weight of each held-out point (train points have 1). */
  heldOutSqrtWeight = 1,
  extraPriors: LossCurveFitOptions["priors"] = {},
) {
  const all = { ...(law === "multi-power" ? MULTI_POWER_PRIORS : {}), ...extraPriors };
  const priors = LAW_PARAMS[law].flatMap((name, j) => {
    const prior = all[name];
    return prior && isLogParam(law, name) ? [{ j, lnMean: Math.log(prior.mean), sdLn: prior.sdLn }] : [];
  });
  return (theta: Float64Array): Float64Array => {
    const params = paramsFromTheta(law, theta);
    const r = new Float64Array(obs.length + priors.length);
    priors.forEach((pr, i) => {
      r[obs.length + i] = (noiseScale * ((theta[pr.j] as number) - pr.lnMean)) / pr.sdLn;
    });
    for (let i = 0; i < obs.length; i++) {
      const o = obs[i] as Obs;
      const heldOut = o.offset >= 0;
      const pred = lawLoss(law, params, runs[o.run] as PreparedRun, o.u) + (heldOut ? (theta[o.offset] as number) : 0);
      r[i] = pred > 0 ? (Math.log(pred) - o.logLoss) * (heldOut ? heldOutSqrtWeight : 1) : Number.NaN;
    }
    return r;
  };
}

/**
 * Starting points: for each value of the law's nonlinear exponents on a small grid, the linear
 * parameters (L0, A, C or B, testOffset) by least squares on the loss; the best few grid points
 * with A > 0 (and B > 0) start the robust fit.
 */
function initialThetas(law: CurveLawName, runs: PreparedRun[], obs: Obs[], offsets: Offsets): Float64Array[] {
  const grid: Array<Record<string, number>> = [];
  const alphas = [0.15, 0.3, 0.5, 0.8, 1.2];
  if (law === "tissue") for (const alpha of alphas) grid.push({ alpha });
  else
    for (const alpha of alphas)
      for (const beta of [0.3, 0.6, 1.2])
        for (const gamma of [0.2, 0.5, 0.8]) for (const C of [0.3, 3, 30]) grid.push({ alpha, beta, gamma, C });
  const y = Float64Array.from(obs, (o) => Math.exp(o.logLoss));
  const scored: Array<{ cost: number; theta: Float64Array }> = [];
  for (const g of grid) {
    // Columns: 1, area^−α, −(S2 or LD sum), [test].
    const cols = obs.map((o) => {
      const run = runs[o.run] as PreparedRun;
      const area = run.trace.area[o.u] as number;
      const third =
        law === "tissue"
          ? -((run.s2 as Float64Array)[o.u] as number)
          : -lossDropSum(g as Pick<MultiPowerParams, "C" | "beta" | "gamma">, run.trace, run.drops as LrDrops, o.u);
      const row = [1, area ** -(g.alpha as number), third];
      for (let j = 0; j < offsets.count; j++) row.push(o.offset === LAW_PARAMS[law].length + j ? 1 : 0);
      return row;
    });
    const k = (cols[0] as number[]).length;
    const M = Array.from({ length: k }, () => new Float64Array(k));
    const b = new Float64Array(k);
    cols.forEach((row, i) => {
      for (let a = 0; a < k; a++) {
        b[a] = (b[a] as number) + (row[a] as number) * (y[i] as number);
        for (let c = 0; c < k; c++)
          (M[a] as Float64Array)[c] = ((M[a] as Float64Array)[c] as number) + (row[a] as number) * (row[c] as number);
      }
    });
    // A zero third column (no annealing in the data) leaves C or B free: a tiny ridge pins it at 0.
    for (let a = 0; a < k; a++) (M[a] as Float64Array)[a] = ((M[a] as Float64Array)[a] as number) * (1 + 1e-9) + 1e-12;
    const x = solve(M, b);
    if (!x) continue;
    const [L0, A, third] = [x[0] as number, x[1] as number, x[2] as number];
    if (!(A > 0)) continue;
    let cost = 0;
    cols.forEach((row, i) => {
      const pred = row.reduce((s, v, j) => s + v * (x[j] as number), 0);
      cost += (pred - (y[i] as number)) ** 2;
    });
    const names = LAW_PARAMS[law];
    const nat: Record<string, number> = { ...g, L0, A };
    if (law === "tissue") nat.C = third;
    else nat.B = Math.max(third, 1e-6);
    const theta = Float64Array.from(names, (n) =>
      isLogParam(law, n) ? Math.log(nat[n] as number) : (nat[n] as number),
    );
    scored.push({ cost, theta: Float64Array.from([...theta, ...Array.from(x.subarray(3, 3 + offsets.count))]) });
  }
  scored.sort((a, b) => a.cost - b.cost);
  return scored.slice(0, 3).map((s) => s.theta);
}

/** Robust noise scale of the log residuals at a starting theta (1.4826·MAD). */
function startScale(law: CurveLawName, runs: PreparedRun[], obs: Obs[], nTrain: number, theta: Float64Array) {
  const r = residualFn(law, runs, obs, 0)(theta).subarray(0, Math.max(1, nTrain));
  const abs = Float64Array.from(r, Math.abs).sort();
  return Math.max(1.4826 * (abs[Math.floor(abs.length / 2)] as number), 1e-4);
}

/** Fits one law to the curves of one group of runs. Throws RangeError when too few points are usable. */
export function fitLossCurve(curves: ObservedCurve[], opts: LossCurveFitOptions = {}): LossCurveFit {
  const law = opts.law ?? "multi-power";
  const lambda = opts.lambda ?? TISSUE_LAMBDA;
  if (curves.length === 0) throw new RangeError("fitLossCurve: no curves");
  const tokensPerStep = curves[0]!.batchSize * curves[0]!.seqLen;
  if (curves.some((c) => c.batchSize * c.seqLen !== tokensPerStep))
    throw new RangeError("fitLossCurve: all curves of one fit must share batchSize·seqLen (areas are per update)");
  const runs = curves.map((c) => prepareRun(c, law, lambda));
  const minTokens = opts.minTokens ?? (opts.minTokensFraction ?? 0.25) * Math.max(...curves.map((c) => c.tokens));
  const nLaw = LAW_PARAMS[law].length;
  const { obs, offsets, nTrain } = observations(curves, runs, minTokens, nLaw);
  const nHeldOut = obs.length - nTrain;
  const p = nLaw + offsets.count;
  if (obs.length < p + 2)
    throw new RangeError(`fitLossCurve: ${obs.length} usable points for ${p} parameters (need at least ${p + 2})`);
  const starts = initialThetas(law, runs, obs, offsets);
  if (starts.length === 0) throw new RangeError("fitLossCurve: no starting point with A > 0 (is the loss falling?)");
  const noiseScale = startScale(law, runs, obs, nTrain, starts[0] as Float64Array);
  const robustRows = nTrain;
  const fitWith = (sqrtWeight: number, from: Float64Array[]) => {
    const fn = residualFn(law, runs, obs, noiseScale, sqrtWeight, opts.priors);
    let best: ReturnType<typeof robustLeastSquares> | null = null;
    for (const start of from) {
      const res = robustLeastSquares(fn, start, { robustRows });
      // Compare starts on the same (unweighted Huber) scale: Σ ρ(r) with the first fit's δ.
      if (!best || huberCost(res.residuals, best.scale) < huberCost(best.residuals, best.scale)) best = res;
    }
    return { fn, fit: best as NonNullable<typeof best> };
  };
  // Held-out weight: fixed, or the train/held-out residual variance ratio after an unweighted fit.
  let weight = typeof opts.heldOutWeight === "number" ? opts.heldOutWeight : 1;
  let { fn, fit } = fitWith(Math.sqrt(weight), starts);
  if (opts.heldOutWeight === "auto") {
    if (nHeldOut > offsets.count && nTrain > 0) {
      let ss = 0;
      for (let i = nTrain; i < obs.length; i++) ss += (fit.residuals[i] as number) ** 2;
      const heldOutVar = ss / (nHeldOut - offsets.count);
      const cap = Math.max(1, nTrain / nHeldOut);
      weight = Math.min(cap, Math.max(1, fit.scale ** 2 / Math.max(heldOutVar, 1e-12)));
      if (weight > 1) ({ fn, fit } = fitWith(Math.sqrt(weight), [fit.theta, ...starts]));
    }
  }
  const dof = obs.length - p;
  // Covariance from the weighted Jacobian: s²·(JᵀWJ)⁻¹, s² = Σ w·r² / dof.
  const J = jacobian(fn, fit.theta, fit.residuals);
  const jtj = Array.from({ length: p }, () => new Float64Array(p));
  let s2 = 0;
  for (let i = 0; i < J.length; i++) {
    const w = fit.weights[i] as number;
    if (i < obs.length) s2 += w * (fit.residuals[i] as number) ** 2;
    const row = J[i] as Float64Array;
    for (let a = 0; a < p; a++)
      for (let b = 0; b < p; b++)
        (jtj[a] as Float64Array)[b] =
          ((jtj[a] as Float64Array)[b] as number) + w * (row[a] as number) * (row[b] as number);
  }
  s2 /= Math.max(1, dof);
  const cov = covariance(jtj, s2);
  const t = tQuantile975(Math.max(1, dof));
  const names = LAW_PARAMS[law];
  const params = paramsFromTheta(law, fit.theta);
  let ci95: LossCurveFit["ci95"] = null;
  if (cov) {
    ci95 = {};
    names.forEach((n, j) => {
      const th = fit.theta[j] as number;
      const se = Math.sqrt((cov[j] as number[])[j] as number);
      const lo = th - t * se;
      const hi = th + t * se;
      (ci95 as Record<string, [number, number]>)[n] = isLogParam(law, n) ? [Math.exp(lo), Math.exp(hi)] : [lo, hi];
    });
  }
  const testOffset = offsets.test !== null ? (fit.theta[offsets.test] as number) : null;
  const offsetSe =
    offsets.test !== null && cov ? Math.sqrt((cov[offsets.test] as number[])[offsets.test] as number) : null;
  return {
    law,
    params,
    ci95,
    testOffset,
    testOffsetCi95:
      testOffset !== null && offsetSe !== null ? [testOffset - t * offsetSe, testOffset + t * offsetSe] : null,
    evalOffset: offsets.eval !== null ? (fit.theta[offsets.eval] as number) : null,
    heldOutWeight: weight,
    lambda: law === "tissue" ? lambda : null,
    theta: Array.from(fit.theta),
    covariance: cov,
    residualScale: fit.scale,
    dof,
    nPoints: obs.length,
    nCurves: curves.length,
    tokensPerStep,
  };
}

/**
 * s²·(JᵀWJ)⁻¹. A direction the data do not fix (B → 0 leaves C, β, γ free) makes JᵀWJ singular:
 * then a ridge of 1e-9, 1e-7, … of the largest diagonal is added, which gives that direction a huge
 * variance and leaves the others (and predictions that do not depend on it) as they are.
 */
function covariance(jtj: Float64Array[], s2: number): number[][] | null {
  const scale = Math.max(...jtj.map((row, a) => row[a] as number));
  for (const ridge of [0, 1e-9, 1e-7, 1e-5]) {
    const m = jtj.map((row, a) => {
      const r = Float64Array.from(row);
      r[a] = (r[a] as number) + ridge * scale;
      return r;
    });
    const inv = invert(m);
    if (inv?.every((row, a) => (row[a] as number) > 0 && row.every(Number.isFinite)))
      return inv.map((row) => Array.from(row, (v) => v * s2));
  }
  return null;
}

function huberCost(r: Float64Array, scale: number): number {
  const d = 1.345 * Math.max(scale, 1e-12);
  let c = 0;
  for (const v of r) {
    const a = Math.abs(v);
    c += Number.isFinite(a) ? (a <= d ? 0.5 * a * a : d * a - 0.5 * d * d) : Number.POSITIVE_INFINITY;
  }
  return c;
}
