// Page renderers: data from api.ts in, HTML strings out (charts from @powersweep/plots).

import {
  batchSizeChart,
  gammaVsTokensChart,
  lossCurveChart,
  lossVsLrChart,
  lrCurveChart,
  powerSurfaceChart,
} from "@powersweep/plots";
import type { TokenPlan } from "@powersweep/spec/api";
import type { Counts, EtaOptRow, FitView, SweepDetail, SweepSummary, TrialDetail, TrialRow, WorkerRow } from "./api.ts";
import { curveModelSection } from "./curves.ts";

export const esc = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");

/** 2e9 → "2B", 1.28e11 → "128B", 5e6 → "5M": how the paper writes token budgets. */
export function fmtTokens(t: number | null): string {
  if (t == null) return "–";
  const units: [number, string][] = [
    [1e12, "T"],
    [1e9, "B"],
    [1e6, "M"],
    [1e3, "k"],
  ];
  for (const [u, s] of units) if (Math.abs(t) >= u) return `${Number((t / u).toPrecision(3))}${s}`;
  return String(t);
}

export const fmtNum = (v: number | null, digits = 4): string =>
  v == null ? "–" : Number(v.toPrecision(digits)).toString();
const fmtLr = (v: number | null): string =>
  v == null ? "–" : v < 1e-3 ? v.toExponential(2) : String(Number(v.toPrecision(3)));

export function progressBar(c: Counts, total: number): string {
  const n = Math.max(
    total,
    Object.values(c).reduce((a, b) => a + b, 0),
    1,
  );
  const seg = (k: keyof Counts) =>
    c[k] > 0 ? `<span class="seg ${k}" style="width:${(100 * c[k]) / n}%" title="${k}: ${c[k]}"></span>` : "";
  // "done" counts trained trials (succeeded or diverged): a cancelled sweep reads "17/36 done", not "36/36".
  const done = c.succeeded + c.diverged;
  return (
    `<div class="progress" data-done="${done}" data-total="${n}">${seg("succeeded")}${seg("diverged")}${seg("failed")}${seg("cancelled")}${seg("running")}</div>` +
    `<div class="counts"><b>${done}/${n}</b> done · ${c.running} running · ${c.queued} queued · ${c.failed} failed · ${c.diverged} diverged${c.cancelled ? ` · ${c.cancelled} cancelled` : ""}</div>`
  );
}

export function sweepsPage(sweeps: SweepSummary[]): string {
  if (sweeps.length === 0)
    return `<p class="muted">No sweeps yet. Submit one with <code>powersweep submit sweep.yaml</code>.</p>`;
  const rows = sweeps
    .map(
      (s) => `<tr class="sweep-row" data-id="${esc(s.id)}">
      <td><a href="#/sweeps/${encodeURIComponent(s.id)}">${esc(s.name)}</a><div class="muted small">${esc(s.kind)} · ${esc(s.createdAt.slice(0, 16).replace("T", " "))}${s.tags.length ? ` · ${s.tags.map(esc).join(", ")}` : ""}</div></td>
      <td><span class="status ${esc(s.status)}">${esc(s.status)}</span></td>
      <td class="wide">${progressBar(s.counts, s.trialCount)}</td></tr>`,
    )
    .join("");
  return `<h1>Sweeps</h1><table class="table sweeps"><thead><tr><th>sweep</th><th>status</th><th>progress</th></tr></thead><tbody>${rows}</tbody></table>`;
}

export interface SweepSelection {
  model: string | null;
  batchSize: number | null;
  tokens: number | null;
  trialId: string | null;
}

export interface SweepPageData {
  sweep: SweepDetail;
  trials: TrialRow[];
  fit: FitView | null;
  trial: TrialDetail | null;
}

const uniq = <T>(xs: T[]): T[] => [...new Set(xs)];
const sortNum = (xs: number[]) => [...xs].sort((a, b) => a - b);

/** The most frequent value: a sensible default slice when the user has not picked one. */
function mode(xs: number[]): number | null {
  const c = new Map<number, number>();
  for (const x of xs) c.set(x, (c.get(x) ?? 0) + 1);
  let best: number | null = null;
  let n = 0;
  for (const [k, v] of c) if (v > n || (v === n && best != null && k > best)) [best, n] = [k, v];
  return best;
}

/** Fill in defaults for the model / β / T slices shown in Fig. 2 and Fig. 3. */
export function resolveSelection(d: SweepPageData, sel: SweepSelection): SweepSelection {
  const models = uniq(d.trials.map((t) => t.model));
  const model = sel.model && models.includes(sel.model) ? sel.model : (models[0] ?? null);
  const mine = d.trials.filter((t) => t.model === model);
  const bs = mine.map((t) => t.batchSize).filter((v): v is number => v != null);
  const ts = mine.map((t) => t.tokens).filter((v): v is number => v != null);
  return {
    model,
    batchSize: sel.batchSize != null && bs.includes(sel.batchSize) ? sel.batchSize : mode(bs),
    tokens: sel.tokens != null && ts.includes(sel.tokens) ? sel.tokens : mode(ts),
    trialId: sel.trialId,
  };
}

function select(
  name: string,
  label: string,
  values: (string | number)[],
  current: string | number | null,
  fmt: (v: never) => string,
): string {
  const opts = values
    .map((v) => `<option value="${esc(String(v))}"${v === current ? " selected" : ""}>${esc(fmt(v as never))}</option>`)
    .join("");
  return `<label class="sel">${label} <select data-sel="${name}">${opts}</select></label>`;
}

function finishedPoints(rows: TrialRow[]) {
  return rows
    .filter((t) => t.status === "succeeded" && t.lr != null && t.testLoss != null)
    .map((t) => ({
      lr: t.lr as number,
      testLoss: t.testLoss as number,
      tip: `η=${fmtLr(t.lr)} loss=${fmtNum(t.testLoss)} (${t.id})`,
    }));
}

function findOpt(fit: FitView | null, model: string | null, tokens: number, batchSize: number): EtaOptRow | undefined {
  return fit?.etaOpt.find(
    (r) =>
      r.tokens === tokens &&
      r.batchSize === batchSize &&
      (r.model === model || fit.etaOpt.every((q) => q.model === r.model)),
  );
}

/** A power-grid sweep (Power scheduler a × b): its trials carry powerA/powerB instead of an lr. */
export const isPowerGrid = (d: { sweep: SweepDetail; trials: TrialRow[] }): boolean =>
  d.sweep.kind === "power-grid" || d.trials.some((t) => t.powerA != null && t.powerB != null);

/** Seed-mean test loss of the succeeded trials per (a, b), one panel per T, at one β. */
function powerSurfacePanels(rows: TrialRow[], batchSize: number | null, tokens: number[]) {
  return tokens.map((T) => {
    const cells = new Map<string, { powerA: number; powerB: number; losses: number[] }>();
    for (const t of rows) {
      if (t.tokens !== T || t.batchSize !== batchSize || t.powerA == null || t.powerB == null) continue;
      const k = `${t.powerA}/${t.powerB}`;
      const c = cells.get(k) ?? { powerA: t.powerA, powerB: t.powerB, losses: [] };
      if (t.status === "succeeded" && t.testLoss != null) c.losses.push(t.testLoss);
      cells.set(k, c);
    }
    return {
      label: `T=${fmtTokens(T)}`,
      cells: [...cells.values()].map((c) => {
        const loss = c.losses.length ? c.losses.reduce((a, b) => a + b, 0) / c.losses.length : null;
        return {
          powerA: c.powerA,
          powerB: c.powerB,
          loss,
          tip: `a=${c.powerA}, b=${c.powerB}, T=${fmtTokens(T)}, β=${batchSize}: ${loss == null ? "no finished trial" : `loss ${fmtNum(loss)} (${c.losses.length} seed${c.losses.length === 1 ? "" : "s"})`}`,
        };
      }),
    };
  });
}

export function sweepPage(d: SweepPageData, sel: SweepSelection, chartWidth: number): string {
  const { sweep, trials, fit } = d;
  const power = isPowerGrid(d);
  const models = uniq(trials.map((t) => t.model));
  const mine = trials.filter((t) => t.model === sel.model);
  const allB = sortNum(uniq(mine.map((t) => t.batchSize).filter((v): v is number => v != null)));
  const allT = sortNum(uniq(mine.map((t) => t.tokens).filter((v): v is number => v != null)));
  const w = Math.max(360, Math.min(640, chartWidth));
  const h = Math.round(w * 0.56);

  // Power grids: test loss over a × b per T at the selected β (Table 3 of 2408.13359).
  const surface = power
    ? `<section class="card wide-card" id="surface">${powerSurfaceChart(powerSurfacePanels(mine, sel.batchSize, allT), {
        width: Math.max(w, Math.min(2 * w, 300 * Math.max(1, allT.length))),
        height: h,
        title: `Test loss over (a, b) per T (β=${sel.batchSize ?? "–"}, ${sel.model ?? ""})`,
      })}</section>`
    : "";
  // Fig. 2: test loss vs η, one series per T, at the selected β.
  const fig2 = lossVsLrChart(
    allT.map((T) => {
      const opt = sel.batchSize != null ? findOpt(fit, sel.model, T, sel.batchSize) : undefined;
      return {
        label: `T=${fmtTokens(T)}`,
        points: finishedPoints(mine.filter((t) => t.tokens === T && t.batchSize === sel.batchSize)),
        etaOpt: opt?.etaOpt ?? null,
        lossAtOpt: opt?.lossAtOpt ?? null,
        onEdge: opt?.onEdge ?? false,
      };
    }),
    { width: w, height: h, title: `Test loss vs η per T (β=${sel.batchSize ?? "–"}, ${sel.model ?? ""})` },
  );
  // Fig. 3: test loss vs η, one series per β, at the selected T.
  const fig3 = lossVsLrChart(
    allB.map((B) => {
      const opt = sel.tokens != null ? findOpt(fit, sel.model, sel.tokens, B) : undefined;
      return {
        label: `β=${B}`,
        points: finishedPoints(mine.filter((t) => t.batchSize === B && t.tokens === sel.tokens)),
        etaOpt: opt?.etaOpt ?? null,
        lossAtOpt: opt?.lossAtOpt ?? null,
        onEdge: opt?.onEdge ?? false,
      };
    }),
    { width: w, height: h, title: `Test loss vs η per β (T=${fmtTokens(sel.tokens)}, ${sel.model ?? ""})` },
  );
  // Fig. 4d: γ vs T with the law and its CI band (aggregated over models, as in eq. 5).
  // Prefer aggregated rows (no model) when the fit has both aggregated and per-model γ.
  const aggregated = fit?.gamma.filter((g) => g.model == null) ?? [];
  const gammaRows = aggregated.length > 0 ? aggregated : (fit?.gamma ?? []);
  const fig4 = fit
    ? gammaVsTokensChart(
        {
          points: gammaRows.map((g) => ({
            tokens: g.tokens,
            gamma: g.gamma,
            group: g.model,
            tip: `${g.model ? `${g.model} ` : ""}T=${fmtTokens(g.tokens)} γ=${g.gamma.toExponential(3)}`,
          })),
          law: fit.law,
        },
        { width: w, height: h, title: "γ = η_opt/β vs T (eq. 4)" },
      )
    : `<div class="placeholder">No fit yet: it appears when the fitter has run on this sweep.</div>`;

  // Time Transfer: B_opt(T), shown once the fit has it for at least two token budgets.
  const bModels = uniq(fit?.batchOpt.map((r) => r.model ?? "") ?? []);
  const bOpt =
    fit && new Set(fit.batchOpt.map((r) => r.tokens)).size >= 2
      ? `<section class="card" id="bopt">${batchSizeChart(
          {
            series: bModels.map((m) => ({
              label: m || "B_opt",
              points: fit.batchOpt
                .filter((r) => (r.model ?? "") === m)
                .map((r) => ({ tokens: r.tokens, batchSize: r.batchSize })),
            })),
          },
          { width: w, height: h, title: "Optimal batch size B_opt vs T" },
        )}</section>`
      : "";

  const curve = d.trial
    ? trialCurves(d.trial, w, h)
    : `<p class="muted">Click a trial in the table to see its loss curve.</p>`;

  const controls = power
    ? `${select("model", "model", models, sel.model, (v: string) => v)}
    ${select("batchSize", "β", allB, sel.batchSize, (v: number) => String(v))}`
    : `${select("model", "model", models, sel.model, (v: string) => v)}
    ${select("batchSize", "β for Fig. 2", allB, sel.batchSize, (v: number) => String(v))}
    ${select("tokens", "T for Fig. 3", allT, sel.tokens, (v: number) => fmtTokens(v))}`;
  const figures = power
    ? `${surface}`
    : `<section class="card" id="fig2">${fig2}</section>
    <section class="card" id="fig3">${fig3}</section>
    <section class="card" id="fig4">${fig4}</section>
    <section class="card" id="etaopt"><h2>η_opt per (model, T, β)</h2>${etaOptTable(fit)}</section>
    ${bOpt}`;

  return `
  <div class="head"><h1>${esc(sweep.name)}</h1><span class="status ${esc(sweep.status)}">${esc(sweep.status)}</span>
    <span class="muted">${esc(sweep.kind)} · ${sweep.trialCount} trials${tokenPlanText(sweep.trainingTokens)}</span></div>
  ${progressBar(sweep.counts, sweep.trialCount)}
  <div class="controls">
    ${controls}
  </div>
  ${fit?.warnings.length ? `<div class="warn">${fit.warnings.map(esc).join("<br>")}</div>` : ""}
  <div class="grid">
    ${figures}
  </div>
  <section class="card" id="curve"><h2>Trial curves</h2>${curve}</section>
  ${curveModelSection(sweep.id, d.trial?.id ?? null)}
  <section class="card"><h2>Trials</h2>${trialTable(mine, sel.trialId, power)}</section>`;
}

/** Loss and lr against tokens for one trial: its dense curve (docs/trial-curves.md) when stored, else the progress metrics. */
export function trialCurves(trial: TrialDetail, w: number, h: number): string {
  const c = trial.curve;
  const loss = c
    ? [
        ...c.train.map((p) => ({ tokens: p.tokens, trainLoss: p.trainLoss, evalLoss: null })),
        ...c.eval.map((p) => ({ tokens: p.tokens, trainLoss: null, evalLoss: p.loss })),
      ]
    : trial.metrics;
  const lr = c
    ? c.train.filter((p) => p.lr != null).map((p) => ({ tokens: p.tokens, lr: p.lr as number }))
    : trial.metrics.filter((m) => m.lr != null).map((m) => ({ tokens: m.tokens, lr: m.lr as number }));
  const what =
    trial.lr != null
      ? `η=${fmtLr(trial.lr)}`
      : trial.powerA != null
        ? `a=${fmtNum(trial.powerA)} b=${fmtNum(trial.powerB)}`
        : "";
  const points = c ? c.train.length : trial.metrics.length;
  return `<div class="two" data-curve-points="${points}" data-eval-points="${c ? c.eval.length : trial.metrics.filter((m) => m.evalLoss != null).length}">${lossCurveChart(
    [{ label: trial.id.slice(0, 8), points: loss }],
    {
      width: Math.round(w * 0.98),
      height: Math.round(h * 0.8),
      title: `Loss curve: ${trial.model} T=${fmtTokens(trial.tokens)} β=${trial.batchSize ?? "–"} ${what} (${points} points)`,
    },
  )}${lrCurveChart(
    [
      {
        label: "lr",
        points: lr,
      },
    ],
    {
      width: Math.round(w * 0.98),
      height: Math.round(h * 0.8),
      title: "Learning-rate schedule",
    },
  )}</div>`;
}

export function etaOptTable(fit: FitView | null): string {
  if (!fit) return `<p class="muted">No fit yet.</p>`;
  if (fit.etaOpt.length === 0) return `<p class="muted">The fit has no η_opt cells.</p>`;
  const rows = [...fit.etaOpt]
    .sort((a, b) => a.model.localeCompare(b.model) || a.tokens - b.tokens || a.batchSize - b.batchSize)
    .map(
      (
        r,
      ) => `<tr class="${r.onEdge ? "edge" : ""}"><td>${esc(r.model)}</td><td>${fmtTokens(r.tokens)}</td><td>${r.batchSize}</td>
      <td>${fmtLr(r.etaOpt)}</td><td>${r.ci ? `[${fmtLr(r.ci[0])}, ${fmtLr(r.ci[1])}]` : "–"}</td>
      <td>${(r.etaOpt / r.batchSize).toExponential(2)}</td><td>${r.onEdge ? `<span class="flag" title="optimum on the η grid edge: extend the grid">edge</span>` : ""}</td></tr>`,
    )
    .join("");
  return `<div class="scroll" tabindex="0" role="region" aria-label="η_opt per (model, T, β)"><table class="table compact"><thead><tr><th>model</th><th>T</th><th>β</th><th>η_opt</th><th>CI</th><th>γ</th><th>grid edge</th></tr></thead><tbody>${rows}</tbody></table></div>`;
}

/** " · trains 58% of the tokens from scratch (shared trunks)" when trunks save anything. */
function tokenPlanText(plan: TokenPlan | undefined): string {
  if (!plan || !(plan.fromScratch > 0) || plan.planned >= plan.fromScratch) return "";
  const pct = Math.round((100 * plan.planned) / plan.fromScratch);
  return ` · shared trunks: trains ${pct}% of the tokens from scratch`;
}

function trialTable(rows: TrialRow[], selected: string | null, power = false): string {
  const sorted = [...rows].sort(
    (a, b) =>
      (a.tokens ?? 0) - (b.tokens ?? 0) ||
      (a.batchSize ?? 0) - (b.batchSize ?? 0) ||
      (a.lr ?? 0) - (b.lr ?? 0) ||
      (a.powerA ?? 0) - (b.powerA ?? 0) ||
      (a.powerB ?? 0) - (b.powerB ?? 0) ||
      (a.seed ?? 0) - (b.seed ?? 0),
  );
  // Shared trunks: the longest trial of a group trains the trunk, the others only their decay branch.
  const branchesOf = new Map<string, number>();
  for (const t of rows) if (t.branchFrom) branchesOf.set(t.branchFrom, (branchesOf.get(t.branchFrom) ?? 0) + 1);
  const run = (t: TrialRow) =>
    t.branchFrom && t.branchStep != null
      ? `<td title="starts from step ${t.branchStep} of the trunk trained by trial ${esc(t.branchFrom.slice(0, 8))}">branch @ ${t.branchStep}</td>`
      : branchesOf.has(t.key)
        ? `<td title="its checkpoints start ${branchesOf.get(t.key)} shorter trials">trunk (${branchesOf.get(t.key)})</td>`
        : "<td>scratch</td>";
  // Adaptive η search: the step that placed each trial (a column only when the sweep searches η).
  const searched = rows.some((t) => t.placedBy != null);
  const placed = (t: TrialRow) =>
    searched ? `<td class="placed-by">${t.placedBy ? esc(t.placedBy.replace(/^search:/, "")) : "grid"}</td>` : "";
  const knobs = (t: TrialRow) =>
    power
      ? `<td class="power-a">${fmtNum(t.powerA)}</td><td class="power-b">${fmtNum(t.powerB)}</td>`
      : `<td>${fmtLr(t.lr)}</td>`;
  const body = sorted
    .map(
      (
        t,
      ) => `<tr class="trial-row${t.id === selected ? " selected" : ""}" data-trial="${esc(t.id)}"><td>${fmtTokens(t.tokens)}</td><td>${t.batchSize ?? "–"}</td>
      ${knobs(t)}<td><span class="status ${esc(t.status)}">${esc(t.status)}</span></td>${run(t)}${placed(t)}<td>${fmtNum(t.testLoss)}</td><td>${fmtNum(t.testPerplexity)}</td></tr>`,
    )
    .join("");
  return `<div class="scroll tall" tabindex="0" role="region" aria-label="Trials"><table class="table compact clickable"><thead><tr><th>T</th><th>β</th>${power ? "<th>a</th><th>b</th>" : "<th>η</th>"}<th>status</th><th>run</th>${searched ? '<th title="the η search step that placed the trial">placed by</th>' : ""}<th>test loss</th><th>ppl</th></tr></thead><tbody>${body}</tbody></table></div>`;
}

export function fleetPage(workers: WorkerRow[], now = Date.now()): string {
  if (workers.length === 0) return `<h1>Fleet</h1><p class="muted">No workers have registered.</p>`;
  const rows = workers
    .map((w) => {
      const age = w.lastHeartbeatAt ? Math.round((now - Date.parse(w.lastHeartbeatAt)) / 1000) : null;
      return `<tr class="worker-row"><td>${esc(w.id)}</td><td>${esc(w.host)}</td><td>${esc(w.devices.join(", ") || "–")}</td><td>${esc(w.backend || "–")}</td><td><span class="status ${esc(w.state)}">${esc(w.state)}</span></td>
      <td>${w.currentTrialId ? esc(w.currentTrialId) : "–"}</td><td>${w.tokensPerSecond != null ? Math.round(w.tokensPerSecond).toLocaleString() : "–"}</td>
      <td>${age == null || Number.isNaN(age) ? "–" : `${age}s ago`}</td></tr>`;
    })
    .join("");
  return `<h1>Fleet</h1><table class="table"><thead><tr><th>worker</th><th>host</th><th>devices</th><th>backend</th><th>state</th><th>trial</th><th>tokens/s</th><th>heartbeat</th></tr></thead><tbody>${rows}</tbody></table>`;
}
