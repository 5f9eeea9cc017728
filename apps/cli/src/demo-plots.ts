// The demo's figures from a fit and its trials, drawn by packages/plots: test loss vs η per T
// (paper Fig. 2, for the β with the most complete curves) and per β (Fig. 3), each with its fitted
// parabolas, γ vs T with the law and its CI band (Fig. 4d), B_opt(T) with its grid-edge marks.
import type { SweepFit } from "@powersweep/fit";
import { batchSizeChart, gammaVsTokensChart, lossVsLrChart } from "@powersweep/plots";

export interface PlotTrial {
  model: string;
  tokens: number;
  batchSize: number;
  lr: number | null;
  testLoss: number | null;
  status: string;
}

const uniqSorted = (xs: number[]) => [...new Set(xs)].sort((a, b) => a - b);
const fmtT = (t: number) =>
  t >= 1e6 ? `${+(t / 1e6).toPrecision(3)}M` : t >= 1e3 ? `${+(t / 1e3).toPrecision(3)}k` : String(t);

function seriesFor(fit: SweepFit, trials: PlotTrial[], model: string, tokens: number, batchSize: number) {
  const opt = fit.etaOpt.find((g) => g.model === model && g.tokens === tokens && g.batchSize === batchSize);
  const points = trials
    .filter(
      (t) =>
        t.model === model &&
        t.tokens === tokens &&
        t.batchSize === batchSize &&
        t.status === "succeeded" &&
        t.lr != null &&
        t.testLoss != null,
    )
    .map((t) => ({ lr: t.lr as number, testLoss: t.testLoss as number }));
  // The parabola was fitted over nPoints grid points around η_opt: draw it over that band.
  const lrs = uniqSorted(points.map((p) => p.lr));
  const step = lrs.length >= 2 ? Math.log(lrs[lrs.length - 1]! / lrs[0]!) / (lrs.length - 1) : 0;
  const parabola =
    opt && opt.method === "parabola" && opt.curvature != null && step > 0
      ? { curvature: opt.curvature, halfWidthLn: (Math.max(3, opt.nPoints) / 2) * step }
      : null;
  return {
    points,
    etaOpt: opt?.etaOpt ?? null,
    lossAtOpt: opt?.lossAtOpt ?? null,
    onEdge: opt?.onEdge ?? false,
    parabola,
  };
}

/**
 * The value of `along` (β for Fig. 2, T for Fig. 3) whose curves are the most complete: the most
 * finished points, then the most curves with an interior optimum, then the middle value. The demo's
 * middle β can be its noisiest (fewest successes near the top of the grid).
 */
export function mostCompleteValue(
  fit: SweepFit,
  trials: PlotTrial[],
  model: string,
  along: "batchSize" | "tokens",
): number {
  const values = uniqSorted(trials.filter((t) => t.model === model).map((t) => t[along]));
  const score = (v: number): [number, number] => {
    const done = trials.filter(
      (t) => t.model === model && t[along] === v && t.status === "succeeded" && t.testLoss != null,
    ).length;
    const interior = fit.etaOpt.filter((g) => g.model === model && g[along] === v && !g.onEdge).length;
    return [done, interior];
  };
  const mid = Math.floor(values.length / 2);
  let best = mid;
  for (let i = 0; i < values.length; i++) {
    const [d, n] = score(values[i]!);
    const [bd, bn] = score(values[best]!);
    if (d > bd || (d === bd && n > bn)) best = i;
  }
  return values[best]!;
}

/** File name → SVG text. */
export function demoFigures(fit: SweepFit, trials: PlotTrial[]): Record<string, string> {
  const figures: Record<string, string> = {};
  const size = { width: 720, height: 420 };
  for (const model of [...new Set(trials.map((t) => t.model))]) {
    const mine = trials.filter((t) => t.model === model);
    const Ts = uniqSorted(mine.map((t) => t.tokens));
    const Bs = uniqSorted(mine.map((t) => t.batchSize));
    const bestB = mostCompleteValue(fit, mine, model, "batchSize");
    const bestT = mostCompleteValue(fit, mine, model, "tokens");
    figures[`loss-vs-lr-per-tokens-${model}.svg`] = lossVsLrChart(
      Ts.map((T) => ({ label: `T=${fmtT(T)}`, ...seriesFor(fit, mine, model, T, bestB) })),
      { ...size, title: `Test loss vs η per T (β=${bestB} sequences, ${model})` },
    );
    figures[`loss-vs-lr-per-batch-${model}.svg`] = lossVsLrChart(
      Bs.map((B) => ({ label: `β=${B}`, ...seriesFor(fit, mine, model, bestT, B) })),
      { ...size, title: `Test loss vs η per β (T=${fmtT(bestT)} tokens, ${model})` },
    );
  }
  const law = fit.law.pooled;
  const ci = law?.ci95 ?? law?.ci95Analytic ?? null;
  figures["gamma-vs-tokens.svg"] = gammaVsTokensChart(
    {
      points: fit.gamma.map((g) => ({ tokens: g.tokens, gamma: g.gamma, group: g.model })),
      law: law
        ? { a: law.a, b: law.b, aCI: ci?.a ?? null, bCI: ci?.b ?? null, r2: law.r2, cov: law.cov, n: law.n }
        : null,
    },
    { ...size, title: "γ = η_opt/β vs T with the fitted γ = a·T^b and its 95% band" },
  );
  const models = [...new Set(fit.batchSizeLaw.table.map((r) => r.model))];
  const bLaw = models.length === 1 ? fit.batchSizeLaw.perModel[models[0]!] : null;
  figures["batch-size-vs-tokens.svg"] = batchSizeChart(
    {
      law: bLaw ? { a: bLaw.c, b: bLaw.d, r2: bLaw.r2 } : null,
      series: models.map((m) => ({
        label: m,
        points: fit.batchSizeLaw.table
          .filter((r) => r.model === m)
          .map((r) => ({ tokens: r.tokens, batchSize: r.batchSize, edge: r.onEdge })),
      })),
    },
    { ...size, title: "B_opt(T): the batch size with the lowest loss at its η_opt" },
  );
  return figures;
}
