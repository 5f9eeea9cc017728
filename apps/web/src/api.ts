// The dashboard's whole data layer: every request and every response shape lives here,
// so an API shape change is a one-file fix. Readers are tolerant: missing fields become null/0.

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

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function get(path: string): Promise<unknown> {
  const token = getToken();
  const res = await fetch(path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (!res.ok) {
    let detail = res.statusText;
    try {
      const body = (await res.json()) as { detail?: string; title?: string; message?: string };
      detail = body.detail ?? body.title ?? body.message ?? detail;
    } catch {
      // not JSON
    }
    throw new ApiError(res.status, `${res.status} ${detail}`);
  }
  return res.json();
}

// ---------- tolerant readers ----------

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const num = (v: unknown): number | null => {
  const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
  return typeof n === "number" && Number.isFinite(n) ? n : null;
};
const str = (v: unknown, fallback = ""): string => (typeof v === "string" ? v : v == null ? fallback : String(v));
const pair = (v: unknown): [number, number] | null => {
  if (Array.isArray(v) && v.length === 2) {
    const a = num(v[0]);
    const b = num(v[1]);
    return a != null && b != null ? [a, b] : null;
  }
  const o = obj(v);
  const lo = num(o.lower ?? o.low ?? o.lo);
  const hi = num(o.upper ?? o.high ?? o.hi);
  return lo != null && hi != null ? [lo, hi] : null;
};
/** First of `keys` present on `o`. */
const pick = (o: Obj, ...keys: string[]): unknown => {
  for (const k of keys) if (o[k] !== undefined) return o[k];
  return undefined;
};

// ---------- sweeps ----------

export interface Counts {
  queued: number;
  running: number;
  succeeded: number;
  failed: number;
  diverged: number;
  cancelled: number;
}

export interface SweepSummary {
  id: string;
  name: string;
  kind: string;
  status: string;
  trialCount: number;
  counts: Counts;
  createdAt: string;
  tags: string[];
}

export interface SweepDetail extends SweepSummary {
  spec: unknown;
}

function readCounts(v: unknown): Counts {
  const o = obj(v);
  return {
    queued: num(o.queued) ?? 0,
    running: num(o.running) ?? 0,
    succeeded: num(o.succeeded) ?? 0,
    failed: num(o.failed) ?? 0,
    diverged: num(o.diverged) ?? 0,
    cancelled: num(o.cancelled) ?? 0,
  };
}

function readSweep(v: unknown): SweepDetail {
  const o = obj(v);
  const counts = readCounts(o.counts);
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  return {
    id: str(o.id),
    name: str(o.name, str(o.id)),
    kind: str(o.kind),
    status: str(o.status, "unknown"),
    trialCount: num(o.trialCount) ?? total,
    counts,
    createdAt: str(o.createdAt),
    tags: arr(o.tags).map((t) => str(t)),
    spec: o.spec ?? null,
  };
}

export async function listSweeps(): Promise<SweepSummary[]> {
  const body = obj(await get("/v1/sweeps?limit=100"));
  return arr(body.items).map(readSweep);
}

export async function getSweep(id: string): Promise<SweepDetail> {
  return readSweep(await get(`/v1/sweeps/${encodeURIComponent(id)}`));
}

// ---------- trials ----------

export interface TrialRow {
  id: string;
  model: string;
  tokens: number | null;
  batchSize: number | null;
  lr: number | null;
  powerA: number | null;
  powerB: number | null;
  seed: number | null;
  status: string;
  testLoss: number | null;
  testPerplexity: number | null;
}

function readTrial(v: unknown): TrialRow {
  const o = obj(v);
  const cfg = obj(o.config);
  const model = pick(o, "model", "modelName") ?? pick(cfg, "model");
  return {
    id: str(o.id),
    model: typeof model === "string" ? model : str(obj(model).name, "model"),
    tokens: num(pick(o, "tokens") ?? cfg.tokens),
    batchSize: num(pick(o, "batchSize") ?? cfg.batchSize),
    lr: num(pick(o, "lr", "etaMax") ?? cfg.lr),
    powerA: num(o.powerA),
    powerB: num(o.powerB),
    seed: num(o.seed),
    status: str(o.status, "unknown"),
    testLoss: num(o.testLoss),
    testPerplexity: num(o.testPerplexity),
  };
}

/**
 * All trials of a sweep. The API pages with limit/offset and reports `total`; a `nextCursor`, if a
 * later API version sends one, is followed instead. Bounded, so a huge sweep cannot hang the page.
 */
export async function listTrials(sweepId: string, maxPages = 50): Promise<TrialRow[]> {
  const out: TrialRow[] = [];
  const limit = 1000;
  let cursor: string | null = null;
  for (let page = 0; page < maxPages; page++) {
    const q = cursor ? `limit=${limit}&cursor=${encodeURIComponent(cursor)}` : `limit=${limit}&offset=${out.length}`;
    const body = obj(await get(`/v1/sweeps/${encodeURIComponent(sweepId)}/trials?${q}`));
    const items = arr(body.items);
    out.push(...items.map(readTrial));
    const next = pick(body, "nextCursor") ?? obj(body.page).nextCursor;
    cursor = typeof next === "string" && next ? next : null;
    const total = num(body.total);
    if (cursor) continue;
    if (items.length === 0 || (total != null ? out.length >= total : items.length < limit)) break;
  }
  return out;
}

export interface MetricPoint {
  step: number | null;
  tokens: number;
  lr: number | null;
  trainLoss: number | null;
  evalLoss: number | null;
}

/** The dense curve of the trial's recorded attempt (docs/curves.md), columnar as stored. */
export interface CurveView {
  train: { step: number; tokens: number; lr: number | null; trainLoss: number | null }[];
  eval: { step: number; tokens: number; loss: number | null }[];
}

export interface TrialDetail extends TrialRow {
  metrics: MetricPoint[];
  curve: CurveView | null;
}

function readCurve(v: unknown): CurveView | null {
  const o = obj(v);
  const steps = arr(o.step);
  if (steps.length === 0) return null;
  const tokens = arr(o.tokens);
  const lr = arr(o.lr);
  const loss = arr(o.trainLoss);
  const e = obj(o.eval);
  const eTokens = arr(e.tokens);
  const eLoss = arr(e.loss);
  return {
    train: steps
      .map((s, i) => ({
        step: num(s) ?? Number.NaN,
        tokens: num(tokens[i]) ?? Number.NaN,
        lr: num(lr[i]),
        trainLoss: num(loss[i]),
      }))
      .filter((p) => Number.isFinite(p.tokens)),
    eval: arr(e.step)
      .map((s, i) => ({ step: num(s) ?? Number.NaN, tokens: num(eTokens[i]) ?? Number.NaN, loss: num(eLoss[i]) }))
      .filter((p) => Number.isFinite(p.tokens)),
  };
}

export async function getTrial(id: string): Promise<TrialDetail> {
  const o = obj(await get(`/v1/trials/${encodeURIComponent(id)}`));
  const raw = arr(o.metrics).map(obj);
  // A retried trial keeps every attempt's curve: show the recorded attempt (or the latest one).
  const attempts = raw.map((m) => num(m.attempt)).filter((a): a is number => a != null);
  const attempt = num(o.resultAttempt) ?? (attempts.length ? Math.max(...attempts) : null);
  const metrics = raw
    .filter((p) => attempt == null || num(p.attempt) == null || num(p.attempt) === attempt)
    .map((p) => ({
      step: num(p.step),
      tokens: num(p.tokens) ?? num(p.step) ?? Number.NaN,
      lr: num(p.lr),
      trainLoss: num(p.trainLoss),
      evalLoss: num(p.evalLoss),
    }))
    .filter((m) => Number.isFinite(m.tokens));
  return { ...readTrial(o), metrics, curve: readCurve(o.curve) };
}

// ---------- fit (packages/fit SweepFit, read tolerantly) ----------

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

function readLaw(v: unknown): LawView | null {
  const o = obj(v);
  const a = num(o.a);
  const b = num(o.b);
  if (a == null || b == null) return null;
  const band = arr(pick(o, "band", "ciBand"))
    .map((p) => {
      const q = obj(p);
      return {
        tokens: num(pick(q, "tokens", "T")) ?? Number.NaN,
        lower: num(pick(q, "lower", "lo")) ?? Number.NaN,
        upper: num(pick(q, "upper", "hi")) ?? Number.NaN,
      };
    })
    .filter((p) => Number.isFinite(p.tokens) && Number.isFinite(p.lower) && Number.isFinite(p.upper));
  // SweepFit's PowerLaw: ci95 = { a: [lo, hi], b: [lo, hi] } (bootstrap), ci95Analytic likewise.
  const ci = obj(pick(o, "ci95", "ci95Analytic"));
  const c = obj(o.cov);
  const varLnA = num(c.varLnA);
  const varB = num(c.varB);
  const covLnAB = num(c.covLnAB);
  return {
    a,
    b,
    aCI: pair(pick(o, "aCI", "aCi") ?? ci.a),
    bCI: pair(pick(o, "bCI", "bCi") ?? ci.b),
    r2: num(pick(o, "r2", "rSquared", "R2")),
    cov: varLnA != null && varB != null && covLnAB != null ? { varLnA, varB, covLnAB } : null,
    n: num(o.n),
    band: band.length >= 2 ? band : null,
  };
}

/** Rows of (model, tokens, one numeric field), dropping rows where either number is missing. */
function perTokenRows<K extends string>(rows: unknown[], field: K) {
  return rows
    .map((r) => {
      const q = obj(r);
      return {
        model: typeof q.model === "string" ? q.model : null,
        tokens: num(q.tokens) ?? Number.NaN,
        [field]: num(q[field]) ?? Number.NaN,
      } as { model: string | null; tokens: number } & Record<K, number>;
    })
    .filter((r) => Number.isFinite(r.tokens) && Number.isFinite(r[field]));
}

/** Read packages/fit's SweepFit (as stored by the fitter and served by GET /v1/sweeps/:id/fit). */
export function readFit(v: unknown): FitView {
  const root = obj(v);
  // The route may wrap the stored fit ({ result: SweepFit, createdAt, ... }).
  const o = root.etaOpt === undefined && root.result !== undefined ? obj(root.result) : root;
  const etaOpt = arr(pick(o, "etaOpt", "optima"))
    .map((r) => {
      const q = obj(r);
      return {
        model: str(pick(q, "model", "modelName"), "model"),
        tokens: num(q.tokens) ?? Number.NaN,
        batchSize: num(q.batchSize) ?? Number.NaN,
        etaOpt: num(pick(q, "etaOpt", "lrOpt")) ?? Number.NaN,
        ci: pair(pick(q, "ci95", "ci")),
        onEdge: pick(q, "onEdge") === true,
        lossAtOpt: num(q.lossAtOpt),
      };
    })
    .filter((r) => Number.isFinite(r.tokens) && Number.isFinite(r.batchSize) && Number.isFinite(r.etaOpt));
  const gamma = perTokenRows(arr(pick(o, "gamma", "gammaTable")), "gamma");
  const lawField = obj(o.law);
  const batchOpt = perTokenRows(arr(pick(obj(o.batchSizeLaw), "table")), "batchSize");
  return {
    etaOpt,
    gamma,
    law: readLaw(lawField.pooled !== undefined ? lawField.pooled : o.law),
    batchOpt,
    warnings: arr(o.warnings).map((w) => (typeof w === "string" ? w : str(obj(w).message, JSON.stringify(w)))),
  };
}

/** The sweep's stored fit, or null while none exists (404). */
export async function getFit(sweepId: string): Promise<FitView | null> {
  try {
    return readFit(await get(`/v1/sweeps/${encodeURIComponent(sweepId)}/fit`));
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

// ---------- workers ----------

export interface WorkerRow {
  id: string;
  host: string;
  /** idle | busy | stopping | stopped | lost (silent past WORKER_LOST_AFTER_SECONDS). */
  state: string;
  currentTrialId: string | null;
  tokensPerSecond: number | null;
  lastHeartbeatAt: string | null;
  devices: string[];
  backend: string;
}

export async function listWorkers(): Promise<WorkerRow[]> {
  const body = obj(await get("/v1/workers"));
  // apps/api answers { workers: [...] }; { items: [...] } is accepted too.
  return arr(body.workers ?? body.items).map((w) => {
    const o = obj(w);
    const cur = o.currentTrialId;
    const hb = o.lastHeartbeatAt;
    return {
      id: str(o.id),
      host: str(o.host),
      state: str(o.state, "unknown"),
      currentTrialId: typeof cur === "string" && cur ? cur : null,
      tokensPerSecond: num(o.tokensPerSecond),
      lastHeartbeatAt: typeof hb === "string" ? hb : null,
      devices: arr(o.devices).map((d) => str(d)),
      backend: str(o.backend),
    };
  });
}
