// The API's Prometheus metrics (docs in RELIABILITY.md, "Metrics under a flood"). A scrape never
// waits on Postgres and never makes it work harder:
// - counters of what this process did (sweeps and trials submitted, trials cancelled, resumed and
//   retried, failed tokens), incremented where it happens, and a request-latency histogram;
// - gauges of the queue (BullMQ job counts) and of trials per status (index-only counts on
//   `Trial.status`), refreshed in the background at most once per METRICS_REFRESH_MS whatever the
//   scrape rate, each count statement capped by METRICS_STATEMENT_TIMEOUT_MS; a scrape reads the
//   last snapshot (only the first scrape of a process waits for one).
import type { SqlPool } from "@powersweep/orchestrator";
import type { TrialQueue } from "@powersweep/queue";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** The counts a scrape reports are at most this old (plus one refresh's duration). */
export const METRICS_REFRESH_MS = 5_000;

/** A trial-count statement that takes longer is cancelled by Postgres; the previous snapshot stays. */
export const METRICS_STATEMENT_TIMEOUT_MS = 2_000;

/**
 * A value loaded at most once per `ms`, in the background: `get()` answers the last value at once
 * and, when it is older than `ms` and no load is running, starts one. Only while there is no value
 * yet does `get()` wait (for the one load in flight). A failed load keeps the previous value, and
 * the next attempt waits `ms` as well, so `load` runs at most once per `ms` whatever calls `get`.
 */
export function refreshedEvery<T>(ms: number, load: () => Promise<T>, now: () => number = Date.now) {
  let value: { v: T } | null = null;
  let error: unknown = null;
  let startedAt = Number.NEGATIVE_INFINITY;
  let inFlight: Promise<void> | null = null;
  let loads = 0;
  let loadedAt = Number.NaN;
  const start = () => {
    startedAt = now();
    loads++;
    inFlight = load().then(
      (v) => {
        value = { v };
        loadedAt = now();
        error = null;
      },
      (err: unknown) => {
        error = err;
      },
    );
    void inFlight.finally(() => {
      inFlight = null;
    });
    return inFlight;
  };
  return {
    async get(): Promise<T> {
      if (!inFlight && now() - startedAt >= ms) {
        const running = start();
        if (!value) await running;
      } else if (!value && inFlight) await inFlight;
      if (value) return value.v;
      throw error ?? new Error("no value loaded yet");
    },
    /** When the value was last loaded (NaN before the first). */
    get loadedAt() {
      return loadedAt;
    },
    /** How many times `load` has run. */
    get loads() {
      return loads;
    },
  };
}

const TRIAL_STATUSES = ["queued", "running", "succeeded", "failed", "diverged", "cancelled"] as const;

/**
 * Trials per status, one index-only count on `Trial_status_idx` per status (no scan of the trial
 * rows). One simple-protocol message: its statements run as one implicit transaction, to which
 * SET LOCAL caps the count (the pooled connection keeps its own setting).
 */
const TRIAL_COUNTS_SQL = `SET LOCAL statement_timeout = ${METRICS_STATEMENT_TIMEOUT_MS};
SELECT ${TRIAL_STATUSES.map((s) => `(SELECT count(*)::float8 FROM "Trial" WHERE status = '${s}') AS ${s}`).join(", ")}`;

export interface MetricsSources {
  /** A plain pg pool (the API's read pool). */
  reads: SqlPool;
  trialQueue: TrialQueue;
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;

export function createApiMetrics(sources: MetricsSources) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "powersweep_api_" });

  const queueCounts = refreshedEvery(METRICS_REFRESH_MS, () =>
    sources.trialQueue.getJobCounts("waiting", "prioritized", "active", "delayed", "failed", "completed"),
  );
  const trialCounts = refreshedEvery(METRICS_REFRESH_MS, async () => {
    // a multi-statement text answers one result per statement
    const results = (await sources.reads.query({ text: TRIAL_COUNTS_SQL })) as unknown as Array<{
      rows?: Array<Record<string, number>>;
    }>;
    const row = results.find((r) => r.rows?.length)?.rows?.[0];
    if (!row) throw new Error("trial counts: no row");
    return row;
  });

  new Gauge({
    name: "powersweep_queue_jobs",
    help: `Trial jobs in the BullMQ queue, by state (refreshed at most every ${METRICS_REFRESH_MS / 1000} s).`,
    labelNames: ["queue", "state"],
    registers: [registry],
    async collect() {
      const counts = await queueCounts.get();
      for (const [state, n] of Object.entries(counts)) this.set({ queue: "trials", state }, n);
    },
  });
  new Gauge({
    name: "powersweep_trials",
    help: `Trials in Postgres, by status (refreshed at most every ${METRICS_REFRESH_MS / 1000} s).`,
    labelNames: ["status"],
    registers: [registry],
    async collect() {
      const row = await trialCounts.get();
      for (const s of TRIAL_STATUSES) this.set({ status: s }, Number(row[s] ?? 0));
    },
  });
  new Gauge({
    name: "powersweep_trials_counted_age_seconds",
    help: "Age of the powersweep_trials snapshot (it grows while Postgres cannot be counted).",
    registers: [registry],
    collect() {
      this.set((Date.now() - trialCounts.loadedAt) / 1000);
    },
  });
  new Counter({
    name: "powersweep_metrics_refreshes_total",
    help: "Count statements run for the gauges (at most one per refresh interval whatever the scrape rate).",
    labelNames: ["source"],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ source: "postgres" }, trialCounts.loads);
      this.inc({ source: "redis" }, queueCounts.loads);
    },
  });

  const counter = (name: string, help: string, labelNames: string[] = []) =>
    new Counter({ name, help, labelNames, registers: [registry] });
  return {
    registry,
    sweepsSubmitted: counter("powersweep_sweeps_submitted_total", "Sweeps accepted by this API process, by kind.", [
      "kind",
    ]),
    trialsSubmitted: counter(
      "powersweep_trials_submitted_total",
      "Trials created by this API process (submissions, imports and extensions).",
    ),
    trialsCancelled: counter("powersweep_trials_cancelled_total", "Trials cancelled through this API process."),
    trialsRequeued: counter(
      "powersweep_trials_requeued_total",
      "Trials queued again through this API process (resume, retry).",
      ["action"],
    ),
    authFailures: counter("powersweep_auth_failures_total", "Requests refused for their token, by reason.", ["reason"]),
    latency: new Histogram({
      name: "powersweep_http_request_duration_seconds",
      help: "HTTP request latency.",
      labelNames: ["method", "route", "status"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  };
}

declare module "fastify" {
  interface FastifyInstance {
    metrics: ApiMetrics;
  }
}
