// The loss-curve model on the sweep page: the selected trial's observed curve with the law's
// predicted curve over it (95% band), and predicted-vs-observed final test losses of the finished
// trials of the same (model, β, schedule). Predictions come from GET /v1/sweeps/:id/curves/predict;
// the fit uses these very runs, so the panel shows how well the law describes them (in-sample), not
// a held-out error (bench/curves.ts measures that).

import { xyChart } from "@powersweep/plots";
import { getToken, listTrials, type MetricPoint } from "./api.ts";
import { addFigureDownloads } from "./download.ts";

const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);

export interface PredictedCurvePoint {
  tokens: number;
  loss: number;
  lower: number | null;
  upper: number | null;
}

interface PredictGroup {
  model: string;
  batchSize: number;
  lr: number;
  final: { testLoss: number | null; trainLoss: number } | null;
  curve: PredictedCurvePoint[];
}

/** Where the panel goes; loadCurveModel fills it after the page renders. */
export function curveModelSection(sweepId: string, trialId: string | null): string {
  return `<section class="card" id="curve-model" data-sweep="${esc(sweepId)}" data-trial="${esc(trialId ?? "")}">
    <h2>Loss-curve model (predicted)</h2>
    <p class="muted">${trialId ? "Fitting the loss-curve law to this sweep's curves…" : "Click a trial to compare its curve with the law's prediction."}</p>
  </section>`;
}

/** Observed train/eval loss with the predicted curve and its 95% band. */
export function curveOverlayChart(
  observed: MetricPoint[],
  predicted: PredictedCurvePoint[],
  opts: { width: number; height: number; title: string },
): string {
  const band = predicted.filter((p) => p.lower !== null && p.upper !== null);
  return xyChart({
    ...opts,
    xLabel: "tokens",
    yLabel: "loss",
    xType: "linear",
    yType: "linear",
    emptyMessage: "No curve points",
    series: [
      {
        label: "observed train",
        points: observed.filter((p) => p.trainLoss != null).map((p) => ({ x: p.tokens, y: p.trainLoss as number })),
        markers: false,
        color: "#0072B2",
      },
      {
        label: "observed eval",
        points: observed.filter((p) => p.evalLoss != null).map((p) => ({ x: p.tokens, y: p.evalLoss as number })),
        color: "#009E73",
      },
      {
        label: "predicted",
        points: predicted.map((p) => ({ x: p.tokens, y: p.loss })),
        markers: false,
        dashed: true,
        color: "#D55E00",
      },
    ],
    bands: band.length
      ? [
          {
            label: "95% interval",
            points: band.map((p) => ({ x: p.tokens, lower: p.lower as number, upper: p.upper as number })),
            color: "#D55E00",
          },
        ]
      : [],
  });
}

/** Predicted against observed final test loss, one point per finished trial, with the y = x line. */
export function predictedVsObservedChart(
  pairs: Array<{ observed: number; predicted: number; label: string }>,
  opts: { width: number; height: number; title: string },
): string {
  const all = pairs.flatMap((p) => [p.observed, p.predicted]);
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  const mae = pairs.length ? pairs.reduce((s, p) => s + Math.abs(p.predicted - p.observed), 0) / pairs.length : null;
  return xyChart({
    ...opts,
    xLabel: "observed test loss",
    yLabel: "predicted test loss",
    xType: "linear",
    yType: "linear",
    emptyMessage: "No finished trials with a prediction",
    series: [
      {
        label: "trials",
        points: pairs.map((p) => ({
          x: p.observed,
          y: p.predicted,
          tip: `${p.label}: observed ${p.observed.toFixed(4)}, predicted ${p.predicted.toFixed(4)}`,
        })),
        line: false,
      },
      ...(pairs.length
        ? [
            {
              label: "y = x",
              points: [
                { x: lo, y: lo },
                { x: hi, y: hi },
              ],
              markers: false,
              dashed: true,
              color: "#222",
            },
          ]
        : []),
    ],
    notes: mae === null ? [] : [`in-sample MAE ${mae.toFixed(4)} nats (${pairs.length} trials)`],
  });
}

async function getJson(path: string): Promise<Record<string, unknown>> {
  const token = getToken();
  const res = await fetch(path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) throw new Error(String(body.detail ?? `${res.status} ${res.statusText}`));
  return body;
}

/** Query of the prediction for a trial's own schedule at T (the API predicts wsd, cosine or constant). */
function predictQuery(config: Record<string, unknown>, tokens: number): URLSearchParams | null {
  const s = (config.schedule ?? {}) as Record<string, unknown>;
  const type = String(s.type);
  if (!["wsd", "cosine", "constant"].includes(type)) return null;
  const q = new URLSearchParams({
    tokens: String(tokens),
    schedule: type,
    model: String((config.model as Record<string, unknown> | undefined)?.name ?? ""),
    batchSize: String(config.batchSize),
    warmupTokens: String(s.warmupTokens ?? 0),
    points: "100",
  });
  if (type === "wsd") {
    q.set("decayFraction", String(s.decayFraction));
    q.set("decayShape", String(s.decayShape));
  }
  return q;
}

/** Predictions already fetched, by URL (the page re-renders on every poll). */
const cache = new Map<string, Promise<Record<string, unknown>>>();
const cachedJson = (url: string) => {
  let p = cache.get(url);
  if (!p) {
    p = getJson(url);
    p.catch(() => cache.delete(url));
    cache.set(url, p);
  }
  return p;
};

/** Fills the #curve-model section, if the page has one with a selected trial. */
export async function loadCurveModel(chartWidth: number, observed: MetricPoint[]): Promise<void> {
  const section = document.getElementById("curve-model");
  const sweepId = section?.dataset.sweep;
  const trialId = section?.dataset.trial;
  if (!section || !sweepId || !trialId) return;
  const w = Math.max(360, Math.min(640, chartWidth));
  const h = Math.round(w * 0.5);
  try {
    const trial = await cachedJson(`/v1/trials/${encodeURIComponent(trialId)}`);
    const config = (trial.config ?? {}) as Record<string, unknown>;
    const lr = Number(trial.lr);
    const q = predictQuery(config, Number(trial.tokens));
    if (!q) {
      section.innerHTML = `<h2>Loss-curve model (predicted)</h2><p class="muted">Only wsd, cosine and constant schedules are predicted.</p>`;
      return;
    }
    const base = `/v1/sweeps/${encodeURIComponent(sweepId)}/curves/predict`;
    const own = await cachedJson(`${base}?${q}`);
    const group = ((own.groups ?? []) as PredictGroup[]).find((g) => g.lr === lr);
    // Predicted vs observed: every finished trial of this model and β, at its own T.
    const trials = (await listTrials(sweepId)).filter(
      (t) => t.model === trial.model && t.batchSize === trial.batchSize && t.testLoss != null && t.tokens != null,
    );
    const pairs: Array<{ observed: number; predicted: number; label: string }> = [];
    for (const T of [...new Set(trials.map((t) => t.tokens as number))]) {
      const qT = new URLSearchParams(q);
      qT.set("tokens", String(T));
      qT.set("points", "2");
      const r = await cachedJson(`${base}?${qT}`);
      const groups = (r.groups ?? []) as PredictGroup[];
      for (const t of trials.filter((x) => x.tokens === T)) {
        const p = groups.find((g) => g.lr === t.lr)?.final?.testLoss;
        if (p != null) pairs.push({ observed: t.testLoss as number, predicted: p, label: `T=${T} η=${t.lr}` });
      }
    }
    if (section.dataset.trial !== trialId) return; // the user picked another trial meanwhile
    section.innerHTML = `<h2>Loss-curve model (${esc(String(own.law))}, predicted)</h2>
      <div class="two">${curveOverlayChart(observed, group?.curve ?? [], {
        width: Math.round(w * 0.98),
        height: h,
        title: `Observed vs predicted curve (η=${lr})`,
      })}${predictedVsObservedChart(pairs, {
        width: Math.round(w * 0.98),
        height: h,
        title: "Predicted vs observed final test loss (in-sample)",
      })}</div>`;
    addFigureDownloads(section);
  } catch (err) {
    section.innerHTML = `<h2>Loss-curve model (predicted)</h2><p class="muted">${esc((err as Error).message)}</p>`;
  }
}
