// The demo's figures from a fit and its trials, drawn by packages/plots: test loss vs η per T
// (paper Fig. 2) and per β (Fig. 3), γ vs T with the law and its CI band (Fig. 4d), B_opt(T).
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
  return {
    points: trials
      .filter(
        (t) =>
          t.model === model &&
          t.tokens === tokens &&
          t.batchSize === batchSize &&
          t.status === "succeeded" &&
          t.lr != null &&
          t.testLoss != null,
      )
      .map((t) => ({ lr: t.lr as number, testLoss: t.testLoss as number })),
    etaOpt: opt?.etaOpt ?? null,
    lossAtOpt: opt?.lossAtOpt ?? null,
    onEdge: opt?.onEdge ?? false,
  };
}

/** File name → SVG text. */
export function demoFigures(fit: SweepFit, trials: PlotTrial[]): Record<string, string> {
  const figures: Record<string, string> = {};
  const size = { width: 720, height: 420 };
  for (const model of [...new Set(trials.map((t) => t.model))]) {
    const mine = trials.filter((t) => t.model === model);
    const Ts = uniqSorted(mine.map((t) => t.tokens));
    const Bs = uniqSorted(mine.map((t) => t.batchSize));
    const midB = Bs[Math.floor(Bs.length / 2)]!;
    const midT = Ts[Math.floor(Ts.length / 2)]!;
    figures[`loss-vs-lr-per-tokens-${model}.svg`] = lossVsLrChart(
      Ts.map((T) => ({ label: `T=${fmtT(T)}`, ...seriesFor(fit, mine, model, T, midB) })),
      { ...size, title: `Test loss vs η per T (β=${midB}, ${model})` },
    );
    figures[`loss-vs-lr-per-batch-${model}.svg`] = lossVsLrChart(
      Bs.map((B) => ({ label: `β=${B}`, ...seriesFor(fit, mine, model, midT, B) })),
      { ...size, title: `Test loss vs η per β (T=${fmtT(midT)}, ${model})` },
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
          .map((r) => ({ tokens: r.tokens, batchSize: r.batchSize })),
      })),
    },
    { ...size, title: "B_opt(T): the batch size with the lowest loss at its η_opt" },
  );
  return figures;
}
