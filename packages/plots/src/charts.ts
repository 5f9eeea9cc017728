// The Power Scheduler paper's figures as data → SVG string functions.
// Inputs are plain data (not packages/fit's types) so any caller can draw them.

import { formatTick } from "./scale.ts";
import { colorAt } from "./svg.ts";
import { type ChartOptions, type XyMarker, type XySeries, xyChart } from "./xy.ts";

// ---------- Fig. 2 / Fig. 3: test loss vs η ----------

export interface LossVsLrSeries {
  /** e.g. "T=2e9" (Fig. 2, one series per token budget) or "β=128" (Fig. 3, one per batch size). */
  label: string;
  points: { lr: number; testLoss: number; tip?: string }[];
  /** Fitted η_opt for this series, drawn as a star with a dashed vertical tick. */
  etaOpt?: number | null;
  /** Loss at η_opt (e.g. the fitted parabola's minimum); defaults to interpolating the points. */
  lossAtOpt?: number | null;
  /** η_opt sits on the grid edge: flagged in the legend. */
  onEdge?: boolean;
  /**
   * The fitted parabola loss = lossAtOpt + (curvature/2)·(ln η − ln η_opt)², drawn dashed over
   * ±halfWidthLn around η_opt (the band it was fitted on). Needs etaOpt and lossAtOpt.
   */
  parabola?: { curvature: number; halfWidthLn: number } | null;
}

export function lossVsLrChart(series: LossVsLrSeries[], opts: ChartOptions = {}): string {
  const markers: XyMarker[] = [];
  const fits: XySeries[] = [];
  const xy: XySeries[] = series.map((s, i) => {
    const color = colorAt(i);
    const q = s.parabola;
    if (
      q &&
      s.etaOpt != null &&
      s.etaOpt > 0 &&
      s.lossAtOpt != null &&
      Number.isFinite(s.lossAtOpt) &&
      q.curvature > 0 &&
      q.halfWidthLn > 0
    ) {
      const x0 = Math.log(s.etaOpt);
      const y0 = s.lossAtOpt;
      fits.push({
        label: `${s.label} parabola`,
        points: Array.from({ length: 41 }, (_, k) => {
          const u = -q.halfWidthLn + (2 * q.halfWidthLn * k) / 40;
          return { x: Math.exp(x0 + u), y: y0 + 0.5 * q.curvature * u * u };
        }),
        color,
        markers: false,
        dashed: true,
        hideInLegend: true,
      });
    }
    const points = s.points.map((p) => ({
      x: p.lr,
      y: p.testLoss,
      tip: p.tip ?? `${s.label}: η=${formatTick(p.lr)}, loss=${p.testLoss.toFixed(4)}`,
    }));
    if (s.etaOpt != null && s.etaOpt > 0 && Number.isFinite(s.etaOpt)) {
      const y = s.lossAtOpt != null && Number.isFinite(s.lossAtOpt) ? s.lossAtOpt : interpolateLogX(points, s.etaOpt);
      if (Number.isFinite(y)) {
        markers.push({
          series: s.label,
          x: s.etaOpt,
          y,
          kind: "star",
          vertical: true,
          tip: `${s.label}: η_opt=${formatTick(s.etaOpt)}${s.onEdge ? " (on grid edge)" : ""}`,
        });
      }
    }
    return {
      label: s.label,
      points,
      color,
      legendNote: s.onEdge ? "⚠ edge" : undefined,
      legendClass: s.onEdge ? "edge" : undefined,
    };
  });
  return xyChart({
    xLabel: "learning rate η",
    yLabel: "test loss",
    emptyMessage: "No finished trials with a test loss yet",
    ...opts,
    xType: "log",
    yType: "linear",
    series: [...xy, ...fits],
    markers,
    notes: fits.length > 0 ? ["dashed: fitted parabola in ln η, ★ its vertex η_opt"] : undefined,
  });
}

/** Loss at `x` by linear interpolation in log x between the two nearest points (clamped at the ends). */
function interpolateLogX(points: { x: number; y: number }[], x: number): number {
  const pts = points.filter((p) => p.x > 0 && Number.isFinite(p.x) && Number.isFinite(p.y)).sort((a, b) => a.x - b.x);
  if (pts.length === 0) return Number.NaN;
  const first = pts[0]!;
  const last = pts[pts.length - 1]!;
  if (x <= first.x) return first.y;
  if (x >= last.x) return last.y;
  for (let i = 1; i < pts.length; i++) {
    const a = pts[i - 1]!;
    const b = pts[i]!;
    if (x <= b.x) {
      const t = (Math.log(x) - Math.log(a.x)) / (Math.log(b.x) - Math.log(a.x));
      return a.y + t * (b.y - a.y);
    }
  }
  return last.y;
}

// ---------- Fig. 4d: γ vs T with the power law and its CI band ----------

export interface PowerLawFit {
  a: number;
  b: number;
  /** 95% (or other) confidence intervals for a and b. */
  aCI?: [number, number] | null;
  bCI?: [number, number] | null;
  r2?: number | null;
  /** The CI band as curves over T. When absent it is computed from `cov` (preferred) or the aCI/bCI corners. */
  band?: { tokens: number; lower: number; upper: number }[] | null;
  /** OLS covariance of (ln a, b) and the number of points fitted: gives the 95% band of the fitted line. */
  cov?: { varLnA: number; varB: number; covLnAB: number } | null;
  n?: number | null;
}

export interface GammaVsTokensData {
  /** Per-T γ (eq. 3, averaged over the best batch sizes); `group` (e.g. the model size) gives one series each. */
  points: { tokens: number; gamma: number; group?: string | null; tip?: string }[];
  /** γ = a·T^b (eq. 4). */
  law?: PowerLawFit | null;
}

export function gammaVsTokensChart(data: GammaVsTokensData, opts: ChartOptions = {}): string {
  const groups = [...new Set(data.points.map((p) => p.group ?? ""))];
  const series: XySeries[] = groups.map((g) => ({
    label: groups.length > 1 && g ? `γ ${g}` : "γ per T",
    points: data.points
      .filter((p) => (p.group ?? "") === g)
      .map((p) => ({ x: p.tokens, y: p.gamma, tip: p.tip ?? `T=${formatTick(p.tokens)}: γ=${formatTick(p.gamma)}` })),
    line: false,
  }));
  const notes: string[] = [];
  const bands = [];
  const law = data.law;
  if (law && Number.isFinite(law.a) && Number.isFinite(law.b)) {
    const ts = data.points.map((p) => p.tokens).filter((t) => t > 0 && Number.isFinite(t));
    const curveTs = ts.length > 0 ? logSpace(Math.min(...ts), Math.max(...ts), 40) : [];
    series.push({
      label: "γ = a·T^b",
      points: curveTs.map((t) => ({ x: t, y: law.a * t ** law.b })),
      markers: false,
      color: "#222",
    });
    const band = law.band?.length
      ? law.band
      : law.cov && law.n != null && law.n > 2
        ? covarianceBand(curveTs, law.a, law.b, law.cov, law.n)
        : law.aCI && law.bCI
          ? cornerBand(curveTs, law.aCI, law.bCI)
          : [];
    if (band.length >= 2)
      bands.push({
        label: "CI",
        color: "#0072B2",
        points: band.map((p) => ({ x: p.tokens, lower: p.lower, upper: p.upper })),
      });
    notes.push(lawText(law));
    if (law.r2 != null && Number.isFinite(law.r2)) notes.push(`R² = ${law.r2.toFixed(3)}`);
  }
  return xyChart({
    xLabel: "tokens T",
    yLabel: "γ = η_opt / β",
    emptyMessage: "No γ values yet (needs η_opt per (T, β))",
    ...opts,
    xType: "log",
    yType: "log",
    series,
    bands,
    notes,
    // γ falls with T (b < 0), so the bottom-left corner is free for the law's label.
    notesAt: law && law.b < 0 ? "bottom-left" : "top-left",
  });
}

/** "γ = a·T^b, a=4.6 [3.9, 5.4], b=-0.51 [-0.55, -0.47]" */
export function lawText(law: PowerLawFit, symbol = "γ"): string {
  const ci = (v?: [number, number] | null) => (v ? ` [${sig(v[0])}, ${sig(v[1])}]` : "");
  return `${symbol} = a·T^b, a=${sig(law.a)}${ci(law.aCI)}, b=${sig(law.b)}${ci(law.bCI)}`;
}

function sig(v: number): string {
  return Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(2) : String(Number(v.toPrecision(3)));
}

function logSpace(lo: number, hi: number, n: number): number[] {
  if (lo === hi) return [lo];
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(10 ** (Math.log10(lo) + ((Math.log10(hi) - Math.log10(lo)) * i) / (n - 1)));
  return out;
}

/** Student-t 0.975 quantiles for df = 1…30 (beyond that, the normal 1.96 is within 2%). */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11,
  2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/**
 * 95% confidence band of the fitted line ln γ = ln a + b·ln T (eq. 4 in log space):
 * se(ln T) = √(var ln a + ln²T·var b + 2·ln T·cov), band = a·T^b·exp(±t₀.₉₇₅(n−2)·se).
 */
export function covarianceBand(
  ts: number[],
  a: number,
  b: number,
  cov: { varLnA: number; varB: number; covLnAB: number },
  n: number,
): { tokens: number; lower: number; upper: number }[] {
  const t = T975[n - 3] ?? 1.96;
  return ts.map((tokens) => {
    const x = Math.log(tokens);
    const se = Math.sqrt(Math.max(0, cov.varLnA + x * x * cov.varB + 2 * x * cov.covLnAB));
    const mid = a * tokens ** b;
    return { tokens, lower: mid * Math.exp(-t * se), upper: mid * Math.exp(t * se) };
  });
}

/** Envelope of a·T^b over the four CI corners: a conservative band when the fit gives no band of its own. */
function cornerBand(ts: number[], aCI: [number, number], bCI: [number, number]) {
  return ts.map((t) => {
    const vals = [aCI[0] * t ** bCI[0], aCI[0] * t ** bCI[1], aCI[1] * t ** bCI[0], aCI[1] * t ** bCI[1]];
    return { tokens: t, lower: Math.min(...vals), upper: Math.max(...vals) };
  });
}

// ---------- Schedules and training curves ----------

export interface CurveSeries<K extends string> {
  label: string;
  points: ({ tokens: number; tip?: string } & Record<K, number>)[];
}

/** Learning rate against tokens trained (schedule curves, eq. 2 / eq. 8). */
export function lrCurveChart(series: CurveSeries<"lr">[], opts: ChartOptions & { logY?: boolean } = {}): string {
  return xyChart({
    xLabel: "tokens",
    yLabel: "learning rate η",
    emptyMessage: "No schedule points",
    ...opts,
    xType: "linear",
    yType: opts.logY ? "log" : "linear",
    series: series.map((s) => ({
      label: s.label,
      points: s.points.map((p) => ({ x: p.tokens, y: p.lr })),
      markers: false,
    })),
  });
}

export interface LossCurveSeries {
  label: string;
  points: { tokens: number; trainLoss?: number | null; evalLoss?: number | null }[];
}

/** Train loss (line) and eval loss (line + circle.pt markers) against tokens for one or more trials. */
export function lossCurveChart(series: LossCurveSeries[], opts: ChartOptions = {}): string {
  const xy: XySeries[] = [];
  series.forEach((s, i) => {
    const color = CURVE_COLORS[i % CURVE_COLORS.length]!;
    const train = s.points.filter((p) => p.trainLoss != null).map((p) => ({ x: p.tokens, y: p.trainLoss as number }));
    const evalPts = s.points.filter((p) => p.evalLoss != null).map((p) => ({ x: p.tokens, y: p.evalLoss as number }));
    if (train.length > 0) xy.push({ label: `${s.label} train`, points: train, markers: false, color });
    if (evalPts.length > 0) xy.push({ label: `${s.label} eval`, points: evalPts, dashed: true, color });
  });
  return xyChart({
    xLabel: "tokens",
    yLabel: "loss",
    emptyMessage: "No metrics recorded for this trial yet",
    ...opts,
    xType: "linear",
    yType: "linear",
    series: xy,
  });
}

const CURVE_COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00"];

// ---------- B_opt vs T ----------

export interface BatchSizeData {
  /**
   * Best batch size per token budget (optionally per model). `edge` marks a B_opt on the smallest
   * ("lower") or largest ("higher") batch size of the grid: the optimum may lie beyond it.
   */
  series: {
    label: string;
    points: { tokens: number; batchSize: number; edge?: "lower" | "higher" | null; tip?: string }[];
  }[];
  /** Optional power-law fit B_opt = a·T^b drawn as a line. */
  law?: PowerLawFit | null;
}

export function batchSizeChart(data: BatchSizeData, opts: ChartOptions = {}): string {
  const series: XySeries[] = data.series.map((s) => ({
    label: s.label,
    points: s.points.map((p) => ({
      x: p.tokens,
      y: p.batchSize,
      tip: p.tip ?? `${s.label}: T=${formatTick(p.tokens)}, B_opt=${p.batchSize}`,
    })),
  }));
  const notes: string[] = [];
  const markers: XyMarker[] = data.series.flatMap((s) =>
    s.points
      .filter((p) => p.edge === "lower" || p.edge === "higher")
      .map((p) => ({
        series: s.label,
        x: p.tokens,
        y: p.batchSize,
        kind: p.edge === "higher" ? ("edge-up" as const) : ("edge-down" as const),
        tip: `${s.label}: B_opt=${p.batchSize} at T=${formatTick(p.tokens)} is the ${p.edge === "higher" ? "largest" : "smallest"} batch size of the grid; extend ${p.edge}`,
      })),
  );
  if (markers.length > 0) notes.push("↑/↓ B_opt on the edge of the batch-size grid: extend it that way");
  if (data.law && Number.isFinite(data.law.a) && Number.isFinite(data.law.b)) {
    const law = data.law;
    const ts = data.series.flatMap((s) => s.points.map((p) => p.tokens)).filter((t) => t > 0 && Number.isFinite(t));
    if (ts.length > 0) {
      series.push({
        label: "B = a·T^b",
        points: logSpace(Math.min(...ts), Math.max(...ts), 30).map((t) => ({ x: t, y: law.a * t ** law.b })),
        markers: false,
        color: "#222",
        dashed: true,
      });
      notes.push(lawText(law, "B_opt"));
    }
  }
  return xyChart({
    xLabel: "tokens T",
    yLabel: "optimal batch size B_opt",
    emptyMessage: "No B_opt values yet",
    ...opts,
    xType: "log",
    yType: "log",
    series,
    markers,
    notes,
  });
}
