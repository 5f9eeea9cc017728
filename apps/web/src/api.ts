// The dashboard's whole data layer: the shared typed client (@powersweep/spec/client, the same
// one the CLI uses) and the view models the pages draw. Response types come from the API's
// schemas, so a renamed or missing field fails typecheck here instead of drawing nothing.
import type {
  SweepDetail as ApiSweepDetail,
  SweepSummary as ApiSweepSummary,
  EtaOptGroup,
  GammaRow as FitGammaRow,
  PowerLaw,
  StatusCounts,
  SweepFit,
  TrialCurve,
  TrialMetric,
  TrialSummary,
  WorkerView,
} from "@powersweep/spec/api";
import { ApiError, PowersweepClient } from "@powersweep/spec/client";

export { ApiError };

const TOKEN_KEY = "powersweep.token";

export function getToken(): string {
  try {
    return localStorage.getItem(TOKEN_KEY) ?? "";
  } catch {
    return "";
  }
}

export function setToken(token: string): void {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage disabled: the token lives for this page only
  }
}

/** Same origin as the page; the token is read from storage on every call. */
const client = new PowersweepClient({ server: "", token: getToken });

// ---------- sweeps

export type Counts = StatusCounts;
export type SweepSummary = ApiSweepSummary;
export type SweepDetail = ApiSweepDetail;

export async function listSweeps(): Promise<SweepSummary[]> {
  return (await client.listSweeps({ limit: 100 })).items;
}

export function getSweep(id: string): Promise<SweepDetail> {
  return client.getSweep(id);
}

// ---------- trials

export type TrialRow = TrialSummary;

/** All trials of a sweep, page by page (`total` says when to stop); bounded, so a huge sweep cannot hang the page. */
export async function listTrials(sweepId: string, maxPages = 50): Promise<TrialRow[]> {
  const out: TrialRow[] = [];
  const limit = 1000;
  for (let page = 0; page < maxPages; page++) {
    const { items, total } = await client.listTrials(sweepId, { limit, offset: out.length });
    out.push(...items);
    if (items.length === 0 || out.length >= total) break;
  }
  return out;
}

export type MetricPoint = Pick<TrialMetric, "step" | "tokens" | "lr" | "trainLoss" | "evalLoss">;

/** The dense curve of the trial's recorded attempt (docs/trial-curves.md), columnar as stored. */
export interface CurveView {
  train: { step: number; tokens: number; lr: number | null; trainLoss: number | null }[];
  eval: { step: number; tokens: number; loss: number | null }[];
}

export interface TrialDetail extends TrialRow {
  metrics: MetricPoint[];
  curve: CurveView | null;
}

function curveView(c: TrialCurve | null): CurveView | null {
  if (!c || c.step.length === 0) return null;
  return {
    train: c.step.map((step, i) => ({
      step,
      tokens: c.tokens[i]!,
      lr: c.lr[i] ?? null,
      trainLoss: c.trainLoss[i] ?? null,
    })),
    eval: c.eval.step.map((step, i) => ({ step, tokens: c.eval.tokens[i]!, loss: c.eval.loss[i] ?? null })),
  };
}

export async function getTrial(id: string): Promise<TrialDetail> {
  const {
    config: _config,
    resultAttempt,
    metrics,
    curve,
    curveAttempt: _curveAttempt,
    ...row
  } = await client.getTrial(id);
  // A retried trial keeps every attempt's curve: show the recorded attempt (or the latest one).
  const attempt = resultAttempt ?? (metrics.length ? Math.max(...metrics.map((m) => m.attempt)) : null);
  return {
    ...row,
    curve: curveView(curve),
    metrics: metrics
      .filter((p) => attempt == null || p.attempt === attempt)
      .map(({ step, tokens, lr, trainLoss, evalLoss }) => ({ step, tokens, lr, trainLoss, evalLoss })),
  };
}

// ---------- fit (the API's SweepFit, as packages/fit computes it)

export interface EtaOptRow {
  model: string;
  tokens: number;
  batchSize: number;
  etaOpt: number;
  ci: [number, number] | null;
  onEdge: boolean;
  lossAtOpt: number | null;
}

export interface GammaRow {
  model: string | null;
  tokens: number;
  gamma: number;
}

export interface LawView {
  a: number;
  b: number;
  aCI: [number, number] | null;
  bCI: [number, number] | null;
  r2: number | null;
  /** OLS covariance of (ln a, b) and point count: the plots package draws the 95% band from them. */
  cov: { varLnA: number; varB: number; covLnAB: number } | null;
  n: number | null;
  band: { tokens: number; lower: number; upper: number }[] | null;
}

export interface FitView {
  etaOpt: EtaOptRow[];
  gamma: GammaRow[];
  /** The pooled γ law (SweepFit.law.pooled). */
  law: LawView | null;
  batchOpt: { model: string | null; tokens: number; batchSize: number }[];
  warnings: string[];
}

function lawView(law: PowerLaw | null): LawView | null {
  if (!law) return null;
  // The bootstrap interval when there is one, else the analytic one.
  const ci = law.ci95 ?? law.ci95Analytic;
  return {
    a: law.a,
    b: law.b,
    aCI: ci?.a ?? null,
    bCI: ci?.b ?? null,
    r2: law.r2,
    cov: law.cov,
    n: law.n,
    band: null,
  };
}

const etaOptRow = (g: EtaOptGroup): EtaOptRow => ({
  model: g.model,
  tokens: g.tokens,
  batchSize: g.batchSize,
  etaOpt: g.etaOpt,
  ci: g.ci95,
  onEdge: g.onEdge,
  lossAtOpt: g.lossAtOpt,
});

const gammaRow = (r: FitGammaRow): GammaRow => ({ model: r.model, tokens: r.tokens, gamma: r.gamma });

/** The view of a fit (GET /v1/sweeps/:id/fit, POST /v1/fits): tables, pooled law, B_opt, warnings. */
export function readFit(fit: SweepFit): FitView {
  return {
    etaOpt: fit.etaOpt.map(etaOptRow),
    gamma: fit.gamma.map(gammaRow),
    law: lawView(fit.law.pooled),
    batchOpt: fit.batchSizeLaw.table.map((r) => ({ model: r.model, tokens: r.tokens, batchSize: r.batchSize })),
    warnings: fit.warnings,
  };
}

/** The sweep's stored fit, or null while none exists (404). */
export async function getFit(sweepId: string): Promise<FitView | null> {
  try {
    return readFit(await client.getFit(sweepId));
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

// ---------- workers

export type WorkerRow = WorkerView;

export async function listWorkers(): Promise<WorkerRow[]> {
  return (await client.listWorkers()).workers;
}
