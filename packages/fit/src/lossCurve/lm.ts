// Levenberg–Marquardt for small nonlinear least-squares problems (a handful of parameters, a few
// thousand residuals), with a robust Huber outer loop (iteratively reweighted least squares).
// Forward-difference Jacobian; damping on the diagonal of JᵀWJ (Marquardt's scaling).

export interface LmOptions {
  /** Per-residual weights (default 1). */
  weights?: Float64Array;
  maxIterations?: number;
  /** Stop when a step lowers the cost by less than this fraction (default 1e-9). */
  relativeTolerance?: number;
}

export interface LmResult {
  theta: Float64Array;
  /** ½·Σ w·r² at theta. */
  cost: number;
  residuals: Float64Array;
  iterations: number;
}

type ResidualFn = (theta: Float64Array) => Float64Array;

function weightedCost(r: Float64Array, w: Float64Array | undefined): number {
  let c = 0;
  for (let i = 0; i < r.length; i++) {
    const v = r[i] as number;
    if (!Number.isFinite(v)) return Number.POSITIVE_INFINITY;
    c += (w ? (w[i] as number) : 1) * v * v;
  }
  return c / 2;
}

/** ∂r/∂θ by forward differences: rows are residuals, columns parameters. */
export function jacobian(fn: ResidualFn, theta: Float64Array, r0: Float64Array = fn(theta)): Float64Array[] {
  const p = theta.length;
  const cols: Float64Array[] = [];
  for (let j = 0; j < p; j++) {
    const h = 1e-6 * Math.max(1, Math.abs(theta[j] as number));
    const t = Float64Array.from(theta);
    t[j] = (t[j] as number) + h;
    const r = fn(t);
    const col = new Float64Array(r0.length);
    for (let i = 0; i < r0.length; i++) col[i] = ((r[i] as number) - (r0[i] as number)) / h;
    cols.push(col);
  }
  const rows: Float64Array[] = [];
  for (let i = 0; i < r0.length; i++) rows.push(Float64Array.from(cols, (c) => c[i] as number));
  return rows;
}

/** JᵀWJ and JᵀWr. */
function normalEquations(J: Float64Array[], r: Float64Array, w: Float64Array | undefined, p: number) {
  const jtj = Array.from({ length: p }, () => new Float64Array(p));
  const jtr = new Float64Array(p);
  for (let i = 0; i < J.length; i++) {
    const row = J[i] as Float64Array;
    const wi = w ? (w[i] as number) : 1;
    if (wi === 0) continue;
    const ri = r[i] as number;
    for (let a = 0; a < p; a++) {
      const ja = (row[a] as number) * wi;
      if (ja === 0) continue;
      jtr[a] = (jtr[a] as number) + ja * ri;
      const rowA = jtj[a] as Float64Array;
      for (let b = a; b < p; b++) rowA[b] = (rowA[b] as number) + ja * (row[b] as number);
    }
  }
  for (let a = 0; a < p; a++)
    for (let b = 0; b < a; b++) (jtj[a] as Float64Array)[b] = (jtj[b] as Float64Array)[a] as number;
  return { jtj, jtr };
}

/** Solves M·x = b by Gaussian elimination with partial pivoting; null when M is singular. */
export function solve(M: Float64Array[], b: Float64Array): Float64Array | null {
  const n = b.length;
  const a: Float64Array[] = M.map((row, i) => {
    const r = new Float64Array(n + 1);
    r.set(row);
    r[n] = b[i] as number;
    return r;
  });
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let i = c + 1; i < n; i++)
      if (Math.abs((a[i] as Float64Array)[c] as number) > Math.abs((a[piv] as Float64Array)[c] as number)) piv = i;
    const pr = a[piv] as Float64Array;
    if (!(Math.abs(pr[c] as number) > 1e-300)) return null;
    a[piv] = a[c] as Float64Array;
    a[c] = pr;
    for (let i = 0; i < n; i++) {
      if (i === c) continue;
      const ri = a[i] as Float64Array;
      const f = (ri[c] as number) / (pr[c] as number);
      if (f === 0) continue;
      for (let k = c; k <= n; k++) ri[k] = (ri[k] as number) - f * (pr[k] as number);
    }
  }
  return Float64Array.from(a, (row, i) => (row[n] as number) / (row[i] as number));
}

/** M⁻¹ (null when singular). */
export function invert(M: Float64Array[]): Float64Array[] | null {
  const n = M.length;
  const cols: Float64Array[] = [];
  for (let j = 0; j < n; j++) {
    const e = new Float64Array(n);
    e[j] = 1;
    const x = solve(M, e);
    if (!x) return null;
    cols.push(x);
  }
  return Array.from({ length: n }, (_, i) => Float64Array.from(cols, (c) => c[i] as number));
}

export function levenbergMarquardt(fn: ResidualFn, theta0: Float64Array, opts: LmOptions = {}): LmResult {
  const w = opts.weights;
  const maxIterations = opts.maxIterations ?? 100;
  const tol = opts.relativeTolerance ?? 1e-9;
  const p = theta0.length;
  let theta = Float64Array.from(theta0);
  let r = fn(theta);
  let cost = weightedCost(r, w);
  if (!Number.isFinite(cost)) return { theta, cost, residuals: r, iterations: 0 };
  let lambda = 1e-3;
  let it = 0;
  for (; it < maxIterations; it++) {
    const J = jacobian(fn, theta, r);
    const { jtj, jtr } = normalEquations(J, r, w, p);
    let improved = false;
    for (let tries = 0; tries < 12; tries++) {
      const M = jtj.map((row, a) => {
        const m = Float64Array.from(row);
        m[a] = (m[a] as number) + lambda * Math.max(row[a] as number, 1e-12);
        return m;
      });
      const step = solve(
        M,
        Float64Array.from(jtr, (v) => -v),
      );
      if (step) {
        const next = Float64Array.from(theta, (v, j) => v + (step[j] as number));
        const rNext = fn(next);
        const cNext = weightedCost(rNext, w);
        if (cNext < cost) {
          const gain = (cost - cNext) / Math.max(cost, 1e-300);
          theta = next;
          r = rNext;
          cost = cNext;
          lambda = Math.max(lambda / 3, 1e-12);
          improved = true;
          if (gain < tol) return { theta, cost, residuals: r, iterations: it + 1 };
          break;
        }
      }
      lambda *= 4;
    }
    if (!improved) break;
  }
  return { theta, cost, residuals: r, iterations: it };
}

export interface RobustResult extends LmResult {
  /** Final Huber weights (1 inside the threshold, δ/|r| outside). */
  weights: Float64Array;
  /** Robust residual scale: 1.4826·MAD. */
  scale: number;
}

/** Median of |x| (copy). */
function medianAbs(x: Float64Array): number {
  const s = Float64Array.from(x, Math.abs).sort();
  const n = s.length;
  if (n === 0) return Number.NaN;
  return n % 2 ? (s[(n - 1) / 2] as number) : ((s[n / 2 - 1] as number) + (s[n / 2] as number)) / 2;
}

/**
 * Huber regression by IRLS: δ = 1.345·σ̂ with σ̂ = 1.4826·MAD of the residuals (95% efficiency under
 * Gaussian noise), weights min(1, δ/|r|), refitted until the weights settle. A loss spike or a
 * diverging tail then pulls the fit by δ, not by its square.
 */
export function robustLeastSquares(
  fn: ResidualFn,
  theta0: Float64Array,
  opts: { robustRows?: number; outerIterations?: number } = {},
): RobustResult {
  const outerIterations = opts.outerIterations ?? 6;
  let res = levenbergMarquardt(fn, theta0);
  const n = res.residuals.length;
  const robustRows = Math.min(opts.robustRows ?? n, n);
  let weights = new Float64Array(n).fill(1);
  let scale = 1.4826 * medianAbs(res.residuals.subarray(0, robustRows));
  for (let o = 0; o < outerIterations && scale > 0; o++) {
    const delta = 1.345 * scale;
    const next = Float64Array.from(res.residuals, (v, i) =>
      i < robustRows ? Math.min(1, delta / Math.max(Math.abs(v), 1e-300)) : 1,
    );
    const settled = o > 0 && next.every((w, i) => Math.abs(w - (weights[i] as number)) < 1e-3);
    weights = next;
    if (settled) break;
    res = levenbergMarquardt(fn, res.theta, { weights });
    scale = 1.4826 * medianAbs(res.residuals.subarray(0, robustRows));
  }
  return { ...res, weights, scale };
}
