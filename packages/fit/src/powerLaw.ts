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

/** The paper's Power-scheduler constants (2408.13359 Table 3 power sweep): a = 4, b = −0.51, η_max = 0.02. */
export const PAPER_POWER_SCHEDULER = { powerA: 4, powerB: -0.51, etaMax: 0.02 } as const;
/** The paper's warmup for every run (Table 2): 1B tokens. */
export const PAPER_WARMUP_TOKENS = 1e9;

/** Units of every quantity a prediction reports. */
export const PREDICTION_UNITS = {
  tokens: "tokens",
  batchSize: "sequences",
  lr: "peak learning rate of a WSD run (AdamW step size before μP per-group scaling)",
} as const;

export interface LrPrediction {
  /** η_opt = β·a·T^b (eq. 6) for a WSD run of `tokens` tokens at `batchSize` sequences per step. */
  lr: number;
  /**
   * 95% interval from the (ln a, b) covariance with the law's own Student-t quantile (df = n − 2,
   * as its ci95Analytic); null without a covariance (a law given as bare a and b).
   */
  ci95: [number, number] | null;
  /** Standard error of ln η. */
  seLn: number | null;
  /** Degrees of freedom of the t quantile (n − 2); null without a covariance. */
  df: number | null;
  /** Token budgets the law was fitted on [min, max]; null when the law does not carry them. */
  fittedTokensRange: [number, number] | null;
  /**
   * How far `tokens` lies outside the fitted range, as a factor (> 1) beyond its nearer end; null
   * inside the range or when the range is unknown.
   */
  extrapolationFactor: number | null;
  /** η_max the prediction is compared with (the Power scheduler's clamp, eq. 7). */
  etaMax: number;
  /** lr > etaMax: a Power scheduler at this (T, β) runs clamped at η_max. */
  aboveEtaMax: boolean;
  units: typeof PREDICTION_UNITS;
  /** Where a Power-scheduler config built from this law gets its powerA (powerASource). */
  powerASource: string;
  /** Extrapolation and clamp warnings, in words. */
  warnings: string[];
}

/**
 * η_opt = β·a·T^b (eq. 6). var(ln η) = var(ln a) + (ln T)² var(b) + 2 ln T cov(ln a, b); the
 * interval uses Student-t with the law's n − 2 degrees of freedom, like the law's own interval (a
 * normal ±1.96 is 6.5× too narrow with 3 token budgets). `law` needs a, b and optionally cov, n and
 * residuals (a fitted PowerLaw, or the paper's {a: 4.6, b: -0.51}).
 */
export function predictLr(args: {
  tokens: number;
  batchSize: number;
  law: Pick<PowerLaw, "a" | "b"> & { cov?: PowerLaw["cov"]; n?: number; residuals?: PowerLaw["residuals"] };
  /** η_max of the target's Power scheduler (default the paper's 0.02). */
  etaMax?: number;
}): LrPrediction {
  const { tokens, batchSize, law } = args;
  const etaMax = args.etaMax ?? PAPER_POWER_SCHEDULER.etaMax;
  const lnT = Math.log(tokens);
  const lnLr = Math.log(batchSize) + Math.log(law.a) + law.b * lnT;
  const lr = Math.exp(lnLr);
  const warnings: string[] = [];

  let ci95: [number, number] | null = null;
  let seLn: number | null = null;
  let df: number | null = null;
  if (law.cov) {
    const v = law.cov.varLnA + lnT * lnT * law.cov.varB + 2 * lnT * law.cov.covLnAB;
    seLn = Math.sqrt(Math.max(0, v));
    df = law.n !== undefined ? law.n - 2 : null;
    // Without n the covariance's df is unknown: the normal quantile is then the optimistic bound.
    const t = df !== null && df >= 1 ? tQuantile975(df) : 1.96;
    if (df === null)
      warnings.push("the law carries no point count: the interval uses the normal 1.96, too narrow for few points");
    ci95 = [Math.exp(lnLr - t * seLn), Math.exp(lnLr + t * seLn)];
  }

  const fitted = (law.residuals ?? []).map((r) => r.tokens).filter((t) => t > 0);
  const fittedTokensRange: [number, number] | null =
    fitted.length > 0 ? [Math.min(...fitted), Math.max(...fitted)] : null;
  let extrapolationFactor: number | null = null;
  if (fittedTokensRange) {
    const [lo, hi] = fittedTokensRange;
    if (tokens > hi) extrapolationFactor = tokens / hi;
    else if (tokens < lo) extrapolationFactor = lo / tokens;
    if (extrapolationFactor !== null) {
      const decades = Math.log10(extrapolationFactor);
      warnings.push(
        `extrapolating: T = ${tokens.toExponential(2)} tokens is ${extrapolationFactor < 1e3 ? extrapolationFactor.toPrecision(2) : extrapolationFactor.toExponential(1)}× (${decades.toFixed(1)} decades) ${tokens > hi ? "above the largest" : "below the smallest"} token budget of the fit (${lo.toExponential(2)}–${hi.toExponential(2)} tokens); log η_opt is known to bend at scale, so check with a short sweep near the target`,
      );
    }
  }
  const aboveEtaMax = lr > etaMax;
  if (aboveEtaMax)
    warnings.push(
      `predicted η = ${lr.toPrecision(3)} is above η_max = ${etaMax}: a Power scheduler clamps at η_max (eq. 7) for the first ${powerClampTokens(law, batchSize, etaMax).toExponential(2)} tokens, and so does any stable run`,
    );
  return {
    lr,
    ci95,
    seLn,
    df,
    fittedTokensRange,
    extrapolationFactor,
    etaMax,
    aboveEtaMax,
    units: PREDICTION_UNITS,
    powerASource: powerASource(law.residuals ? "fitted" : "given"),
    warnings,
  };
}

/**
 * Default warmup of a Power-scheduler run of `tokens` tokens: the paper's 1B tokens (Table 2),
 * capped at 1% of the run so that a short run is not mostly warmup.
 */
export function defaultWarmupTokens(tokens: number): number {
  return Math.round(Math.min(PAPER_WARMUP_TOKENS, 0.01 * tokens));
}

/**
 * A "power" ScheduleSpec (eq. 7/8) from a fitted law. The spec's powerA is a itself: the trainer
 * multiplies by the trial's batch size (η_power(n) = min(η_max, β·a·n^b)), so batchSize here is
 * only validated and used to report where the clamp stops binding.
 *
 * Where a comes from matters: the law fitted on WSD sweeps gives η_opt of a WSD run of T tokens;
 * the paper's Power scheduler uses a = 4 chosen by a power sweep (Table 3) against 4.6 from its
 * WSD law, and loss was insensitive to a in [3, 5]. `powerASource` says which one this is.
 * warmupTokens defaults to defaultWarmupTokens(tokens) when `tokens` is given, else 0.
 */
export function powerSchedulerConfig(
  law: Pick<PowerLaw, "a" | "b">,
  opts: {
    batchSize: number;
    etaMax: number;
    warmupTokens?: number;
    /** Total tokens of the target run, for the default warmup. */
    tokens?: number;
    decayFraction: number;
    decayShape?: DecayShape;
  },
): Extract<ScheduleSpec, { type: "power" }> {
  const warmupTokens = opts.warmupTokens ?? (opts.tokens !== undefined ? defaultWarmupTokens(opts.tokens) : 0);
  if (!(law.a > 0 && law.b < 0 && law.b >= -2)) throw new RangeError("powerSchedulerConfig: need a > 0 and -2 ≤ b < 0");
  if (!(opts.batchSize > 0 && opts.etaMax > 0))
    throw new RangeError("powerSchedulerConfig: need batchSize > 0, etaMax > 0");
  if (!(warmupTokens >= 0 && opts.decayFraction >= 0 && opts.decayFraction <= 1))
    throw new RangeError("powerSchedulerConfig: need warmupTokens ≥ 0 and 0 ≤ decayFraction ≤ 1");
  return {
    type: "power",
    powerA: law.a,
    powerB: law.b,
    etaMax: opts.etaMax,
    warmupTokens,
    decayFraction: opts.decayFraction,
    decayShape: opts.decayShape ?? "exponential", // the paper's final models decay exponentially
  };
}

/** Words for where a Power-scheduler config's powerA came from. */
export function powerASource(from: "fitted" | "paper" | "given"): string {
  if (from === "paper")
    return "powerA = 4: the paper's Power-scheduler value from its power sweep (2408.13359 Table 3)";
  const what = from === "fitted" ? "the fitted WSD law γ = a·T^b" : "the given law";
  return `powerA = a of ${what}; the paper's Power scheduler uses a = 4 from a power sweep against a = 4.6 from its WSD law (loss insensitive to a in [3, 5]); a power sweep (kind: power) tunes it`;
}

/** Tokens after which β·a·n^b drops below η_max (eq. 7): n* = (η_max / (β a))^(1/b). */
export function powerClampTokens(law: Pick<PowerLaw, "a" | "b">, batchSize: number, etaMax: number): number {
  return (etaMax / (batchSize * law.a)) ** (1 / law.b);
}
