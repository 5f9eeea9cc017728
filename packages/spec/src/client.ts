// The typed powersweep API client the CLI and the dashboard share. Every method's answer is the
// Static type of the response schema the API registers (./api.ts), so a field name either side
// gets wrong fails typecheck. Runs wherever `fetch` does (Node 20+, browsers); pure TypeBox types,
// no Fastify.
import type {
  CancelResult,
  CreatedSweep,
  ExtendResult,
  FitsBody,
  Prediction,
  PredictQuery,
  Problem,
  ResumeResult,
  RetryResult,
  StoredFit,
  SubmitQuery,
  SweepDetail,
  SweepFit,
  SweepList,
  SweepListQuery,
  TrialDetail,
  TrialList,
  TrialListQuery,
  WorkerList,
} from "./api.ts";

export interface ApiClientOptions {
  /** Base URL of the API ("" for the page's own origin, as the dashboard uses it). */
  server?: string;
  /** Bearer token, or a function that reads the current one (it may change between calls). */
  token?: string | (() => string);
  fetch?: typeof fetch;
}

/** A 4xx/5xx answer: its status and, when the API sent one, the problem+json body. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem | null,
    message: string,
  ) {
    super(message);
  }
}

/** The API could not be reached at all (connection refused, DNS, …). */
export class ApiUnreachableError extends Error {
  constructor(
    readonly server: string,
    readonly reason: string,
  ) {
    super(`cannot reach the powersweep API at ${server || "this origin"} (${reason})`);
  }
}

type Query = Record<string, string | number | boolean | undefined | null>;

function queryString(q: Query | undefined): string {
  if (!q) return "";
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== null) p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : "";
}

const id = (v: string) => encodeURIComponent(v);

export interface RawRequest {
  method?: string;
  query?: Query;
  /** A string is sent as is (with `contentType`); anything else as JSON. */
  body?: unknown;
  contentType?: string;
}

export class PowersweepClient {
  constructor(protected readonly options: ApiClientOptions = {}) {}

  get server(): string {
    return (this.options.server ?? "").replace(/\/$/, "");
  }

  protected token(): string {
    const t = this.options.token;
    return (typeof t === "function" ? t() : t) ?? "";
  }

  /** One request; the answer's text (status checked: 4xx/5xx throw ApiError). */
  async text(path: string, r: RawRequest = {}): Promise<string> {
    const headers: Record<string, string> = { accept: "application/json, text/csv;q=0.9, */*;q=0.1" };
    const token = this.token();
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (r.body !== undefined) {
      headers["content-type"] = r.contentType ?? "application/json";
      body = typeof r.body === "string" ? r.body : JSON.stringify(r.body);
    }
    const url = `${this.server}${path}${queryString(r.query)}`;
    let res: Response;
    try {
      res = await (this.options.fetch ?? fetch)(url, { method: r.method ?? "GET", headers, body });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      throw new ApiUnreachableError(this.server, e.cause?.code ?? e.cause?.message ?? e.message);
    }
    const text = await res.text();
    if (!res.ok) {
      let problem: Problem | null = null;
      try {
        const parsed = JSON.parse(text) as Problem;
        if (parsed && typeof parsed === "object" && typeof parsed.status === "number") problem = parsed;
      } catch {
        // not JSON
      }
      throw new ApiError(res.status, problem, `${res.status} ${problem?.detail ?? problem?.title ?? res.statusText}`);
    }
    return text;
  }

  /** One request whose answer is JSON of type T. */
  async json<T>(path: string, r: RawRequest = {}): Promise<T> {
    const text = await this.text(path, r);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  // ---- sweeps

  /** POST /v1/sweeps: a sweep document as text (JSON, YAML or CSV rows of an import). */
  submitSweep(document: string, contentType: string, query: SubmitQuery = {}): Promise<CreatedSweep> {
    return this.json("/v1/sweeps", { method: "POST", body: document, contentType, query });
  }
  listSweeps(query: Partial<SweepListQuery> = {}): Promise<SweepList> {
    return this.json("/v1/sweeps", { query });
  }
  getSweep(sweepId: string): Promise<SweepDetail> {
    return this.json(`/v1/sweeps/${id(sweepId)}`);
  }
  listTrials(sweepId: string, query: Partial<TrialListQuery> = {}): Promise<TrialList> {
    return this.json(`/v1/sweeps/${id(sweepId)}/trials`, { query });
  }
  cancelSweep(sweepId: string): Promise<CancelResult> {
    return this.json(`/v1/sweeps/${id(sweepId)}/cancel`, { method: "POST", body: {} });
  }
  retrySweep(sweepId: string): Promise<RetryResult> {
    return this.json(`/v1/sweeps/${id(sweepId)}/retry`, { method: "POST", body: {} });
  }
  resumeSweep(sweepId: string): Promise<ResumeResult> {
    return this.json(`/v1/sweeps/${id(sweepId)}/resume`, { method: "POST", body: {} });
  }
  extendSweep(sweepId: string, document: string, contentType: string, query: { dryRun?: boolean } = {}) {
    return this.json<ExtendResult>(`/v1/sweeps/${id(sweepId)}/extend`, {
      method: "POST",
      body: document,
      contentType,
      query,
    });
  }

  // ---- trials, workers

  getTrial(trialId: string): Promise<TrialDetail> {
    return this.json(`/v1/trials/${id(trialId)}`);
  }
  listWorkers(query: { includeStopped?: boolean } = {}): Promise<WorkerList> {
    return this.json("/v1/workers", { query });
  }

  // ---- fits

  getFit(sweepId: string): Promise<StoredFit> {
    return this.json(`/v1/sweeps/${id(sweepId)}/fit`);
  }
  /** The η_opt and γ tables as CSV (both, or one). */
  getFitCsv(sweepId: string, table?: "etaOpt" | "gamma"): Promise<string> {
    return this.text(`/v1/sweeps/${id(sweepId)}/fit`, { query: { format: "csv", table } });
  }
  predict(query: PredictQuery): Promise<Prediction> {
    return this.json("/v1/predict", { query });
  }
  fitRows(body: FitsBody): Promise<SweepFit> {
    return this.json("/v1/fits", { method: "POST", body });
  }
}
