// γ = a·T^b (eq. 4), fitted as ln γ = ln a + b ln T by least squares; η_opt = β·a·T^b (eq. 6).
import type { DecayShape, ScheduleSpec } from "@powersweep/spec";
import { mulberry32, quantileSorted, tQuantile975 } from "./rng.ts";

export interface PowerLawPoint {
  tokens: number;
  gamma: number;
  model?: string;
}

export interface PowerLawOptions {
  /** Pairs-bootstrap resamples for ci95 (default 1000). */
  bootstrap?: number;
  seed?: number;
}

export interface PowerLaw {
  a: number;
  b: number;
  lnA: number;
  r2: number | null;
  n: number;
  /** Residual standard deviation in ln γ (df = n − 2); null when n = 2. */
  sigmaLn: number | null;
  residuals: { tokens: number; gamma: number; model: string | null; residualLn: number }[];
  /**
   * The reported 95% intervals; null when n < 3. Pairs bootstrap (resample points, seeded)
   * percentile intervals; with fewer than SMALL_N points a pairs bootstrap under-covers (its
   * resamples are few distinct point sets, whose slopes span little more than the pairwise slopes),
   * so each bound is then the wider of the bootstrap's and the Student-t interval's (`ci95Method`).
   */
  ci95: { a: [number, number]; b: [number, number] } | null;
  ci95Method: "bootstrap" | "bootstrap+t" | null;
  /** Student-t intervals from the OLS covariance; null when n < 3. */
  ci95Analytic: { a: [number, number]; b: [number, number] } | null;
  /** OLS covariance of (ln a, b): s²(XᵀX)⁻¹. null when n < 3 (no residual degrees of freedom). */
  cov: { varLnA: number; varB: number; covLnAB: number } | null;
}

/** Below this many points the reported ci95 is widened to cover the Student-t interval. */
export const SMALL_N = 8;

const hull = (p: [number, number], q: [number, number] | undefined): [number, number] =>
  q ? [Math.min(p[0], q[0]), Math.max(p[1], q[1])] : p;

interface Ols {
  intercept: number;
  slope: number;
  rss: number;
  sxx: number;
  xm: number;
  tss: number;
}

function ols(xs: number[], ys: number[], idx?: number[]): Ols | null {
  const ids = idx ?? xs.map((_, i) => i);
  const n = ids.length;
  let xm = 0;
  let ym = 0;
  for (const i of ids) {
    xm += xs[i] as number;
    ym += ys[i] as number;
  }
  xm /= n;
  ym /= n;
  let sxx = 0;
  let sxy = 0;
  let tss = 0;
  for (const i of ids) {
    const dx = (xs[i] as number) - xm;
    const dy = (ys[i] as number) - ym;
    sxx += dx * dx;
    sxy += dx * dy;
    tss += dy * dy;
  }
  if (!(sxx > 1e-12)) return null;
  const slope = sxy / sxx;
  const intercept = ym - slope * xm;
  const rss = Math.max(0, tss - slope * sxy);
  return { intercept, slope, rss, sxx, xm, tss };
}

/** Fit γ = a·T^b (eq. 4). Throws RangeError with fewer than 2 distinct token counts. */
export function fitPowerLaw(points: PowerLawPoint[], opts: PowerLawOptions = {}): PowerLaw {
  const pts = points.filter(
    (p) => p.tokens > 0 && p.gamma > 0 && Number.isFinite(p.tokens) && Number.isFinite(p.gamma),
  );
  const xs = pts.map((p) => Math.log(p.tokens));
  const ys = pts.map((p) => Math.log(p.gamma));
  const fit = ols(xs, ys);
  if (!fit) throw new RangeError("fitPowerLaw: need at least 2 points with distinct tokens");
  const n = pts.length;
  const df = n - 2;
  const s2 = df > 0 ? fit.rss / df : null;
  const cov =
    s2 === null
      ? null
      : {
          varLnA: s2 * (1 / n + (fit.xm * fit.xm) / fit.sxx),
          varB: s2 / fit.sxx,
          covLnAB: (-s2 * fit.xm) / fit.sxx,
        };
  const t = tQuantile975(df);
  const ci95Analytic = cov
    ? {
        a: [
          Math.exp(fit.intercept - t * Math.sqrt(cov.varLnA)),
          Math.exp(fit.intercept + t * Math.sqrt(cov.varLnA)),
        ] as [number, number],
        b: [fit.slope - t * Math.sqrt(cov.varB), fit.slope + t * Math.sqrt(cov.varB)] as [number, number],
      }
    : null;

  let ci95: PowerLaw["ci95"] = null;
  const nBoot = Math.max(0, Math.floor(opts.bootstrap ?? 1000));
  if (n >= 3 && nBoot > 0) {
    const rand = mulberry32(opts.seed ?? 1);
    const lnAs: number[] = [];
    const bs: number[] = [];
    const idx = new Array<number>(n).fill(0);
    for (let r = 0, tries = 0; r < nBoot && tries < nBoot * 10; tries++) {
      for (let i = 0; i < n; i++) idx[i] = Math.floor(rand() * n);
      const f = ols(xs, ys, idx);
      if (!f) continue; // all draws at one T: slope undefined, redraw
      lnAs.push(f.intercept);
      bs.push(f.slope);
      r++;
    }
    lnAs.sort((p, q) => p - q);
    bs.sort((p, q) => p - q);
    ci95 = {
      a: [Math.exp(quantileSorted(lnAs, 0.025)), Math.exp(quantileSorted(lnAs, 0.975))],
      b: [quantileSorted(bs, 0.025), quantileSorted(bs, 0.975)],
    };
    if (n < SMALL_N && ci95Analytic) ci95 = { a: hull(ci95.a, ci95Analytic.a), b: hull(ci95.b, ci95Analytic.b) };
  }
  const ci95Method = ci95 === null ? null : n < SMALL_N && ci95Analytic ? "bootstrap+t" : "bootstrap";

  return {
    a: Math.exp(fit.intercept),
    b: fit.slope,
    lnA: fit.intercept,
    r2: fit.tss > 0 ? 1 - fit.rss / fit.tss : null,
    n,
    sigmaLn: s2 === null ? null : Math.sqrt(s2),
    residuals: pts.map((p, i) => ({
      tokens: p.tokens,
      gamma: p.gamma,
      model: p.model ?? null,
      residualLn: (ys[i] as number) - (fit.intercept + fit.slope * (xs[i] as number)),
    })),
    ci95,
    ci95Method,
    ci95Analytic,
    cov,
  };
}

export interface TransferCheck {
  /**
   * true when every per-size 95% interval on b contains one common value. For intervals on a line
   * this is the same as "all pairs overlap" (Helly's theorem in 1-D). Hypothesis 2: one (a, b)
   * serves all μP sizes.
   */
  agree: boolean;
  /** Common interval of b values [max lo, min hi], null when empty. */
  commonB: [number, number] | null;
  perModel: { model: string; b: number; ci95: [number, number] | null }[];
  /** Pairs of models whose b intervals do not overlap. */
  disagreeing: [string, string][];
  detail: string;
}

/**
 * Compare per-model b's (Hypothesis 2 of 2408.13359). Uses the bootstrap ci95 when present, else
 * the analytic one; a model with neither interval cannot be judged and is left out (say so in detail).
 */
export function transferCheck(perModelLaws: Record<string, PowerLaw | null>): TransferCheck {
  const perModel = Object.entries(perModelLaws)
    .filter((e): e is [string, PowerLaw] => e[1] !== null)
    .map(([model, law]) => ({ model, b: law.b, ci95: law.ci95?.b ?? law.ci95Analytic?.b ?? null }));
  const judged = perModel.filter((m) => m.ci95 !== null) as { model: string; b: number; ci95: [number, number] }[];
  const disagreeing: [string, string][] = [];
  for (let i = 0; i < judged.length; i++)
    for (let j = i + 1; j < judged.length; j++) {
      const p = judged[i] as (typeof judged)[number];
      const q = judged[j] as (typeof judged)[number];
      if (p.ci95[1] < q.ci95[0] || q.ci95[1] < p.ci95[0]) disagreeing.push([p.model, q.model]);
    }
  const lo = Math.max(...judged.map((m) => m.ci95[0]));
  const hi = Math.min(...judged.map((m) => m.ci95[1]));
  const commonB: [number, number] | null = judged.length > 0 && lo <= hi ? [lo, hi] : null;
  const agree = judged.length >= 2 && disagreeing.length === 0;
  const skipped = perModel.filter((m) => m.ci95 === null).map((m) => m.model);
  const bs = judged.map((m) => `${m.model}: b=${m.b.toFixed(3)} [${m.ci95[0].toFixed(3)}, ${m.ci95[1].toFixed(3)}]`);
  let detail: string;
  if (judged.length < 2) detail = `need ≥2 model sizes with a b interval to check transfer (have ${judged.length})`;
  else if (agree) detail = `b agrees across sizes (common b in [${lo.toFixed(3)}, ${hi.toFixed(3)}]): ${bs.join("; ")}`;
  else
    detail = `b differs across sizes: ${disagreeing.map(([p, q]) => `${p} vs ${q}`).join(", ")} do not overlap; ${bs.join("; ")}`;
  if (skipped.length > 0) detail += `; not judged (fewer than 3 token budgets): ${skipped.join(", ")}`;
  return { agree, commonB, perModel, disagreeing, detail };
}

export interface LrPrediction {
  lr: number;
  /** 95% interval from the (ln a, b) covariance (normal approximation); null without a covariance. */
  ci95: [number, number] | null;
  /** Standard error of ln η. */
  seLn: number | null;
}

/**
 * η_opt = β·a·T^b (eq. 6). var(ln η) = var(ln a) + (ln T)² var(b) + 2 ln T cov(ln a, b).
 * `law` needs a, b and optionally cov (a fitted PowerLaw, or the paper's {a: 4.6, b: -0.51}).
 */
export function predictLr(args: {
  tokens: number;
  batchSize: number;
  law: Pick<PowerLaw, "a" | "b"> & { cov?: PowerLaw["cov"] };
}): LrPrediction {
  const { tokens, batchSize, law } = args;
  const lnT = Math.log(tokens);
  const lnLr = Math.log(batchSize) + Math.log(law.a) + law.b * lnT;
  if (!law.cov) return { lr: Math.exp(lnLr), ci95: null, seLn: null };
  const v = law.cov.varLnA + lnT * lnT * law.cov.varB + 2 * lnT * law.cov.covLnAB;
  const se = Math.sqrt(Math.max(0, v));
  return { lr: Math.exp(lnLr), ci95: [Math.exp(lnLr - 1.96 * se), Math.exp(lnLr + 1.96 * se)], seLn: se };
}

/**
 * A "power" ScheduleSpec (eq. 7/8) from a fitted law. The spec's powerA is a itself: the trainer
 * multiplies by the trial's batch size (η_power(n) = min(η_max, β·a·n^b)), so batchSize here is
 * only validated and used to report where the clamp stops binding.
 */
export function powerSchedulerConfig(
  law: Pick<PowerLaw, "a" | "b">,
  opts: { batchSize: number; etaMax: number; warmupTokens: number; decayFraction: number; decayShape?: DecayShape },
): Extract<ScheduleSpec, { type: "power" }> {
  if (!(law.a > 0 && law.b < 0 && law.b >= -2)) throw new RangeError("powerSchedulerConfig: need a > 0 and -2 ≤ b < 0");
  if (!(opts.batchSize > 0 && opts.etaMax > 0))
    throw new RangeError("powerSchedulerConfig: need batchSize > 0, etaMax > 0");
  if (!(opts.warmupTokens >= 0 && opts.decayFraction >= 0 && opts.decayFraction <= 1))
    throw new RangeError("powerSchedulerConfig: need warmupTokens ≥ 0 and 0 ≤ decayFraction ≤ 1");
  return {
    type: "power",
    powerA: law.a,
    powerB: law.b,
    etaMax: opts.etaMax,
    warmupTokens: opts.warmupTokens,
    decayFraction: opts.decayFraction,
    decayShape: opts.decayShape ?? "exponential", // the paper's final models decay exponentially
  };
}

/** Tokens after which β·a·n^b drops below η_max (eq. 7): n* = (η_max / (β a))^(1/b). */
export function powerClampTokens(law: Pick<PowerLaw, "a" | "b">, batchSize: number, etaMax: number): number {
  return (etaMax / (batchSize * law.a)) ** (1 / law.b);
}
