// η_opt for one (model, T, β) group: a parabola in ln η fitted over a band of grid points around
// the minimum (Porian et al. 2406.19146 interpolate loss vs log η; DeepSeek fits a near-optimal band).
// A band of ±bandSteps grid steps (default 2, so up to 5 points) rather than a 3-point parabola
// keeps one noisy or spurious dip from moving the vertex by whole grid steps.
// The 95% interval is a parametric bootstrap of the band fit with the run-to-run noise pooled over
// the sweep (seed spread and band residuals, with its degrees of freedom): a per-cell seed bootstrap
// covered the truth 72% of the time with 2 seeds, because 2 seeds say almost nothing about the noise.
// packages/fit/test/etaOptCoverage.test.ts holds its coverage at 1, 2, 3 and 8 seeds to ≥ 90%.
import { mulberry32, normal, quantileSorted } from "./rng.ts";

export interface EtaOptPoint {
  lr: number;
  testLoss: number;
  seed?: number;
}

export interface EtaOptOptions {
  /** Half-width of the band in grid steps around the minimum (default 2). */
  bandSteps?: number;
  /** Minimum points in the band; the band widens on the open side to reach it (default 4, never below 3). */
  minPoints?: number;
  /** Bootstrap resamples for ci95 (default 200). */
  bootstrap?: number;
  /**
   * The sd of one run's test loss and its degrees of freedom, pooled over a sweep's groups
   * (pooledLossNoise; fitSweep passes both). Without it the group's own noise is used: the spread
   * between its seeds plus its band-parabola residuals.
   */
  noiseSd?: number;
  /** Degrees of freedom behind noiseSd (default: treat it as known, i.e. ∞). */
  noiseDof?: number;
  /** Seed of the bootstrap PRNG (default 1). */
  seed?: number;
  /**
   * Learning rates at which runs diverged. A divergence above a top-edge argmin brackets the
   * optimum (loss there is effectively +∞), so the group is not flagged as "extend higher".
   */
  divergedLrs?: number[];
}

export interface EtaOptEstimate {
  /** η_opt: parabola vertex (or the argmin grid lr on fallback). */
  etaOpt: number;
  /** Loss at η_opt (parabola value at the vertex, or the seed-mean loss at the argmin). */
  lossAtOpt: number;
  /** d²loss/d(ln η)² at the vertex: the Time Transfer "sensitivity" (2405.05838). null on argmin fallback. */
  curvature: number | null;
  /**
   * 95% interval for η_opt, always containing etaOpt. "parametric": bootstrap of the band fit with
   * the pooled run-to-run noise, its sd redrawn from its scaled-χ² law per resample (so few degrees
   * of freedom widen it as a Student-t would); "grid": the argmin fallback's neighbouring grid
   * points, widened to every lr whose loss is within 2 noise sd of the best. null without any
   * noise estimate (one seed and no band residuals anywhere) for a parabola.
   */
  ci95: [number, number] | null;
  ciMethod: "parametric" | "grid" | null;
  method: "parabola" | "argmin";
  /**
   * Why the argmin was reported instead of a parabola vertex: "non-convex" (no convex band fit
   * with its vertex inside the band) or "vertex-above-grid-point" (the fitted minimum is worse than
   * an observed grid point beyond noise). null for a parabola.
   */
  fallback: "non-convex" | "vertex-above-grid-point" | null;
  /** Grid points (distinct lrs) in the final band fit; 1 on argmin fallback without a band. */
  nPoints: number;
  /** Distinct lrs with at least one finite loss. */
  nLrs: number;
  /** Largest number of seeds at one lr. */
  nSeeds: number;
  /** The seed-mean argmin is the smallest or largest lr of the grid (optimum possibly outside). */
  onEdge: boolean;
  extend: "lower" | "higher" | null;
  /** Two more grid steps beyond the edge, with the grid's mean log spacing. */
  suggestedLrs: number[];
  /** The argmin is at the top of the grid but a larger lr diverged: the optimum is bracketed. */
  bracketedByDivergence: boolean;
}

/** Seed-combined curve: ascending lrs, x = ln lr, mean loss, seed losses per lr. */
interface Curve {
  lrs: number[];
  xs: number[];
  losses: number[][];
}

interface CurveFit {
  x: number;
  y: number;
  curvature: number | null;
  method: "parabola" | "argmin";
  lo: number;
  hi: number;
  /** Fitted values of the band (for residuals), index-aligned with lo..hi. */
  fitted: number[] | null;
}

function buildCurve(points: EtaOptPoint[]): Curve {
  const byLr = new Map<number, number[]>();
  for (const p of points) {
    if (!(Number.isFinite(p.lr) && p.lr > 0 && Number.isFinite(p.testLoss))) continue;
    const list = byLr.get(p.lr);
    if (list) list.push(p.testLoss);
    else byLr.set(p.lr, [p.testLoss]);
  }
  const lrs = [...byLr.keys()].sort((a, b) => a - b);
  return { lrs, xs: lrs.map(Math.log), losses: lrs.map((lr) => byLr.get(lr) as number[]) };
}

const mean = (v: number[]): number => {
  let s = 0;
  for (const x of v) s += x;
  return s / v.length;
};

function argminIndex(ys: number[]): number {
  let best = 0;
  for (let i = 1; i < ys.length; i++) if ((ys[i] as number) < (ys[best] as number)) best = i;
  return best;
}

/** Weighted least squares y = c0 + c1 (x − xm) + c2 (x − xm)² over [lo, hi]. */
function quadFit(
  xs: number[],
  ys: number[],
  ws: number[],
  lo: number,
  hi: number,
): { c0: number; c1: number; c2: number; xm: number } | null {
  let sw = 0;
  let xm = 0;
  for (let i = lo; i <= hi; i++) {
    sw += ws[i] as number;
    xm += (ws[i] as number) * (xs[i] as number);
  }
  xm /= sw;
  // Normal equations with moments S_k = Σ w u^k, T_k = Σ w u^k y.
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let s4 = 0;
  let t0 = 0;
  let t1 = 0;
  let t2 = 0;
  for (let i = lo; i <= hi; i++) {
    const w = ws[i] as number;
    const u = (xs[i] as number) - xm;
    const y = ys[i] as number;
    const u2 = u * u;
    s0 += w;
    s1 += w * u;
    s2 += w * u2;
    s3 += w * u2 * u;
    s4 += w * u2 * u2;
    t0 += w * y;
    t1 += w * u * y;
    t2 += w * u2 * y;
  }
  // Solve the symmetric 3×3 system by Cramer's rule.
  const det = s0 * (s2 * s4 - s3 * s3) - s1 * (s1 * s4 - s3 * s2) + s2 * (s1 * s3 - s2 * s2);
  if (!(Math.abs(det) > 1e-300)) return null;
  const c0 = (t0 * (s2 * s4 - s3 * s3) - s1 * (t1 * s4 - s3 * t2) + s2 * (t1 * s3 - s2 * t2)) / det;
  const c1 = (s0 * (t1 * s4 - t2 * s3) - t0 * (s1 * s4 - s3 * s2) + s2 * (s1 * t2 - t1 * s2)) / det;
  const c2 = (s0 * (s2 * t2 - s3 * t1) - s1 * (s1 * t2 - s2 * t1) + t0 * (s1 * s3 - s2 * s2)) / det;
  return { c0, c1, c2, xm };
}

function smooth(ys: number[]): number[] {
  const n = ys.length;
  return ys.map((y, i) => {
    const l = i > 0 ? (ys[i - 1] as number) : y;
    const r = i < n - 1 ? (ys[i + 1] as number) : y;
    return (l + 2 * y + r) / 4;
  });
}

function band(n: number, center: number, k: number, minPoints: number): [number, number] {
  let lo = Math.max(0, center - k);
  let hi = Math.min(n - 1, center + k);
  while (hi - lo + 1 < minPoints && (lo > 0 || hi < n - 1)) {
    if (hi < n - 1) hi++;
    if (hi - lo + 1 < minPoints && lo > 0) lo--;
  }
  return [lo, hi];
}

/**
 * Band parabola with re-centring: fit around the argmin, move the band to the grid point nearest
 * the vertex and refit (≤3 times). A spurious dip two steps from the true optimum is then outvoted
 * by its neighbours instead of anchoring the fit.
 */
function fitCurve(xs: number[], ys: number[], ws: number[], k: number, minPoints: number): CurveFit {
  const n = xs.length;
  const i0 = argminIndex(ys);
  // Start the band at the argmin of the [1, 2, 1]-smoothed curve: a single-point dip (noise or a
  // spurious second basin) then cannot pull the band away from the broad minimum on its own.
  let center = n >= 3 ? argminIndex(smooth(ys)) : i0;
  const fallback: CurveFit = {
    x: xs[i0] as number,
    y: ys[i0] as number,
    curvature: null,
    method: "argmin",
    lo: i0,
    hi: i0,
    fitted: null,
  };
  let best: CurveFit | null = null;
  const seen = new Set<number>();
  for (let iter = 0; iter < 3 && !seen.has(center); iter++) {
    seen.add(center);
    const [lo, hi] = band(n, center, k, minPoints);
    if (hi - lo + 1 < 3) break;
    const q = quadFit(xs, ys, ws, lo, hi);
    if (!q || !(q.c2 > 0)) break;
    const u = -q.c1 / (2 * q.c2);
    const x = q.xm + u;
    if (x < (xs[lo] as number) || x > (xs[hi] as number)) break;
    const fitted: number[] = [];
    for (let i = lo; i <= hi; i++) {
      const d = (xs[i] as number) - q.xm;
      fitted.push(q.c0 + q.c1 * d + q.c2 * d * d);
    }
    best = { x, y: q.c0 + q.c1 * u + q.c2 * u * u, curvature: 2 * q.c2, method: "parabola", lo, hi, fitted };
    // Next centre: nearest grid point to the vertex.
    let nearest = 0;
    for (let i = 1; i < n; i++)
      if (Math.abs((xs[i] as number) - x) < Math.abs((xs[nearest] as number) - x)) nearest = i;
    center = nearest;
  }
  return best ?? fallback;
}

/** Weighted residual sum of squares of one group around its band parabola, plus its seed spread. */
interface NoiseSums {
  ss: number;
  dof: number;
  fromSeeds: boolean;
  fromResiduals: boolean;
}

/**
 * Sums of squares of single runs around the model "mean loss at each lr = band parabola": the
 * spread between seeds at one lr (n − 1 degrees of freedom per lr) plus the seed-count-weighted
 * residuals of the seed means around the band fit (m − 3). Under that model Σ/σ² is χ² with the
 * summed degrees of freedom; a misfit of the parabola only inflates it.
 */
function noiseSums(curve: Curve, fit: CurveFit): NoiseSums {
  let ss = 0;
  let dof = 0;
  let fromSeeds = false;
  let fromResiduals = false;
  curve.losses.forEach((l) => {
    if (l.length < 2) return;
    const m = mean(l);
    for (const x of l) ss += (x - m) ** 2;
    dof += l.length - 1;
    fromSeeds = true;
  });
  const m = fit.hi - fit.lo + 1;
  if (fit.fitted && m > 3) {
    fit.fitted.forEach((f, j) => {
      const l = curve.losses[fit.lo + j] as number[];
      ss += l.length * (mean(l) - f) ** 2;
    });
    dof += m - 3;
    fromResiduals = true;
  }
  return { ss, dof, fromSeeds, fromResiduals };
}

/** A χ²_dof draw: the sum of dof squared normals, or the Wilson–Hilferty cube above 50 dof. */
function chiSquare(rand: () => number, dof: number): number {
  if (dof > 50) {
    const c = 2 / (9 * dof);
    return dof * Math.max(0, 1 - c + normal(rand) * Math.sqrt(c)) ** 3;
  }
  let s = 0;
  for (let i = 0; i < dof; i++) s += normal(rand) ** 2;
  return s;
}

/** The noise sd of a group's own data with its degrees of freedom; null with none. */
function ownNoise(curve: Curve, fit: CurveFit): { sd: number; dof: number } | null {
  const s = noiseSums(curve, fit);
  return s.dof >= 1 && s.ss > 0 ? { sd: Math.sqrt(s.ss / s.dof), dof: s.dof } : null;
}

/** Estimate η_opt for one (model, T, β) group. Throws RangeError when no point has a finite loss. */
export function estimateEtaOpt(points: EtaOptPoint[], opts: EtaOptOptions = {}): EtaOptEstimate {
  const k = Math.max(1, Math.floor(opts.bandSteps ?? 2));
  const minPoints = Math.max(3, Math.floor(opts.minPoints ?? 4));
  const nBoot = Math.max(0, Math.floor(opts.bootstrap ?? 200));
  const curve = buildCurve(points);
  const n = curve.lrs.length;
  if (n === 0) throw new RangeError("estimateEtaOpt: no point with a finite loss and positive lr");
  const ys = curve.losses.map(mean);
  const ws = curve.losses.map((l) => l.length);
  let fit = fitCurve(curve.xs, ys, ws, k, minPoints);
  const noise =
    opts.noiseSd !== undefined && opts.noiseSd > 0
      ? { sd: opts.noiseSd, dof: opts.noiseDof ?? Number.POSITIVE_INFINITY }
      : ownNoise(curve, fit);

  // Edge detection on the seed-mean argmin.
  const iMin = argminIndex(ys);
  const step = n >= 2 ? ((curve.xs[n - 1] as number) - (curve.xs[0] as number)) / (n - 1) : Math.LN2;
  let extend: "lower" | "higher" | null = null;
  let bracketedByDivergence = false;
  if (n >= 2 && iMin === 0) extend = "lower";
  else if (n >= 2 && iMin === n - 1) {
    const top = curve.lrs[n - 1] as number;
    bracketedByDivergence = (opts.divergedLrs ?? []).some((lr) => lr > top);
    if (!bracketedByDivergence) extend = "higher";
  }
  const onEdge = n < 2 || extend !== null;
  const suggestedLrs =
    extend === "lower"
      ? [1, 2].map((j) => Math.exp((curve.xs[0] as number) - j * step))
      : extend === "higher"
        ? [1, 2].map((j) => Math.exp((curve.xs[n - 1] as number) + j * step))
        : [];

  // A fitted minimum worse than an observed grid point is not the optimum. A point outside the band
  // was never seen by the fit, so any lower loss there disqualifies the vertex; a point inside it
  // was, and its seed mean may sit below the parabola by noise: only beyond 2 noise sd.
  let fallback: EtaOptEstimate["fallback"] = fit.method === "argmin" && n >= 3 ? "non-convex" : null;
  if (fit.method === "parabola") {
    const inBand = iMin >= fit.lo && iMin <= fit.hi;
    const tol = inBand && noise ? (2 * noise.sd) / Math.sqrt(ws[iMin] as number) : 0;
    if ((ys[iMin] as number) < fit.y - tol) {
      fallback = "vertex-above-grid-point";
      fit = {
        x: curve.xs[iMin] as number,
        y: ys[iMin] as number,
        curvature: null,
        method: "argmin",
        lo: iMin,
        hi: iMin,
        fitted: null,
      };
    }
  }

  let ci95: [number, number] | null = null;
  let ciMethod: EtaOptEstimate["ciMethod"] = null;
  if (fit.method === "argmin" && n >= 2) {
    // The optimum of a curve we cannot fit is only known to the grid's resolution: the neighbouring
    // grid points, widened to every lr whose seed-mean loss is within 2 noise sd of the best's
    // (those are not distinguishable from it).
    const i = curve.xs.indexOf(fit.x);
    let lo = Math.max(0, i - 1);
    let hi = Math.min(n - 1, i + 1);
    if (noise)
      for (let j = 0; j < n; j++) {
        const sd = noise.sd * Math.sqrt(1 / (ws[j] as number) + 1 / (ws[i] as number));
        if ((ys[j] as number) - (ys[i] as number) <= 2 * sd) {
          lo = Math.min(lo, j);
          hi = Math.max(hi, j);
        }
      }
    ci95 = [curve.lrs[lo] as number, curve.lrs[hi] as number];
    ciMethod = "grid";
  } else if (fit.method === "parabola" && noise && nBoot > 0) {
    // Parametric bootstrap: band values redrawn around the fitted parabola with sd σ*/√n_i, where
    // σ*² = σ̂²·dof/χ²_dof carries the uncertainty of σ̂ itself (a t-like tail for few dof).
    const rand = mulberry32(opts.seed ?? 1);
    const fitted = fit.fitted as number[];
    const m = fit.hi - fit.lo + 1;
    const yb = ys.slice();
    const draws: number[] = [];
    for (let b = 0; b < nBoot; b++) {
      const sd = Number.isFinite(noise.dof) ? noise.sd * Math.sqrt(noise.dof / chiSquare(rand, noise.dof)) : noise.sd;
      for (let j = 0; j < m; j++)
        yb[fit.lo + j] = (fitted[j] as number) + (sd / Math.sqrt(ws[fit.lo + j] as number)) * normal(rand);
      draws.push(fitCurve(curve.xs, yb, ws, k, minPoints).x);
    }
    draws.sort((p, q) => p - q);
    ci95 = [
      Math.exp(Math.min(fit.x, quantileSorted(draws, 0.025))),
      Math.exp(Math.max(fit.x, quantileSorted(draws, 0.975))),
    ];
    ciMethod = "parametric";
  }

  return {
    etaOpt: Math.exp(fit.x),
    lossAtOpt: fit.y,
    curvature: fit.curvature,
    ci95,
    ciMethod,
    method: fit.method,
    fallback,
    nPoints: fit.method === "parabola" ? fit.hi - fit.lo + 1 : 1,
    nLrs: n,
    nSeeds: Math.max(...ws),
    onEdge,
    extend,
    suggestedLrs,
    bracketedByDivergence,
  };
}

/** Run-to-run noise of the test loss, pooled over groups. */
export interface LossNoise {
  /** Estimated sd of one run's test loss (nats). */
  sd: number;
  /** Degrees of freedom behind it. */
  dof: number;
  /** Where it came from: spread between seeds at one lr, band-parabola residuals, or both. */
  source: "seeds" | "band residuals" | "seeds and band residuals";
}

/**
 * The sd of one run's test loss pooled over a sweep's (model, T, β) groups: the spread between
 * seeds at the same lr plus the seed-weighted residuals of each group's band parabola (which also
 * hold any misfit, so they over- rather than under-state the noise). null without a degree of
 * freedom.
 */
export function pooledLossNoise(
  groups: EtaOptPoint[][],
  opts: Pick<EtaOptOptions, "bandSteps" | "minPoints"> = {},
): LossNoise | null {
  const k = Math.max(1, Math.floor(opts.bandSteps ?? 2));
  const minPoints = Math.max(3, Math.floor(opts.minPoints ?? 4));
  let ss = 0;
  let dof = 0;
  let fromSeeds = false;
  let fromResiduals = false;
  for (const points of groups) {
    const curve = buildCurve(points);
    if (curve.lrs.length === 0) continue;
    const fit = fitCurve(
      curve.xs,
      curve.losses.map(mean),
      curve.losses.map((l) => l.length),
      k,
      minPoints,
    );
    const s = noiseSums(curve, fit);
    ss += s.ss;
    dof += s.dof;
    fromSeeds ||= s.fromSeeds;
    fromResiduals ||= s.fromResiduals;
  }
  if (dof < 1 || !(ss > 0)) return null;
  return {
    sd: Math.sqrt(ss / dof),
    dof,
    source: fromSeeds && fromResiduals ? "seeds and band residuals" : fromSeeds ? "seeds" : "band residuals",
  };
}
