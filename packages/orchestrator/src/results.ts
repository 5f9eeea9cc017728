// Trial lifecycle on Postgres, as the worker drives it. Postgres is the record: every transition is
// one conditional statement, so retries, duplicate deliveries and stalled-job re-runs are safe.
//   markRunning   queued → running (attempts + 1, a lease until now + leaseSeconds), one
//                 UPDATE … RETURNING, only for a trial of an accepted sweep (not creating, not
//                 cancelled); the sweep becomes running in the same statement
//   renewLeases   the heartbeat: extends the leases this worker still holds; a trial missing from
//                 the answer was cancelled or taken away (its lease expired) and must stop
//   markRunningMany  the same for several trials in one statement
//   recordMetrics batched TrialMetric rows (skipDuplicates on (trialId, step))
//   recordResult  the result and the final status in one transaction, only for the attempt that
//                 is running and has no result yet (a second completion changes nothing)
//   recordResults the same for several results in one statement
//   claimAndRecord  claims and results in one statement
//   createTrialWriter  the worker's writer: claims and results that arrive while a write is in
//                 flight are grouped (group commit) into one of the three statements above, so
//                 one trial's result travels with the next trial's claim; a repeated claim of a
//                 trial goes in a later statement and takes the next attempt
//   releaseTrial  running → queued (shutdown, or a crash with attempts left)
// A trial whose lease expired is queued again or failed by the sweeper (reconcile.ts).
//   completeSweepIfDone  a sweep with nothing queued or running becomes completed
import { execute, queryRows, type SqlClient } from "./sql.ts";

export type { SqlClient, SqlPool } from "./sql.ts";

export type TrialOutcome = "succeeded" | "diverged" | "failed" | "cancelled";

/** What a worker needs to run a trial it has just claimed. */
export interface ClaimedTrial {
  id: string;
  sweepId: string;
  /** This attempt's number (1 for the first run). */
  attempt: number;
  config: unknown;
  trainer: string;
  maxAttempts: number;
  checkpointPath: string | null;
}

/** Default lease of a running trial: its worker's heartbeat must renew it within this time. */
export const DEFAULT_LEASE_SECONDS = 60;

/** Sweep statuses whose trials a worker may claim (a `creating` sweep's trials are invisible). */
const CLAIMABLE_SWEEP = `s.status::text IN ('queued', 'running', 'completed')`;

const MARK_RUNNING_SQL = `
WITH t AS (
  UPDATE "Trial" t SET status = 'running', "workerId" = $2, attempts = t.attempts + 1,
    "leaseUntil" = now() + make_interval(secs => $4::float8),
    "startedAt" = now(), "updatedAt" = now(), "checkpointPath" = COALESCE(t."checkpointPath", $3)
  FROM "Sweep" s
  WHERE t.id = $1::uuid AND s.id = t."sweepId" AND t.status::text = 'queued' AND ${CLAIMABLE_SWEEP}
  RETURNING t.id::text AS id, t."sweepId"::text AS "sweepId", t.attempts, t.config, s.trainer, s."maxAttempts",
    t."checkpointPath", s.status AS "sweepStatus"
), s AS (
  UPDATE "Sweep" SET status = 'running', "updatedAt" = now()
  WHERE id = (SELECT "sweepId"::uuid FROM t) AND status = 'queued'
)
SELECT id, "sweepId", attempts, config, trainer, "maxAttempts", "checkpointPath" FROM t`;

/** A claimed Trial row as the claim statements return it. */
interface ClaimRow {
  id: string;
  sweepId: string;
  attempts: number;
  config: unknown;
  trainer: string;
  maxAttempts: number;
  checkpointPath: string | null;
}

const claimed = (r: ClaimRow): ClaimedTrial => ({
  id: r.id,
  sweepId: r.sweepId,
  attempt: Number(r.attempts),
  config: r.config,
  trainer: r.trainer,
  maxAttempts: Number(r.maxAttempts),
  checkpointPath: r.checkpointPath,
});

/**
 * Claims a trial for this worker: queued → running, attempts + 1, a lease until now + leaseSeconds,
 * startedAt = now, and its sweep queued → running, in one statement. Returns null when the trial is
 * not queued (running elsewhere, finished, missing) or its sweep is not accepted (creating) or
 * cancelled: the job then does not train (see claimBlocker).
 */
export async function markRunning(
  db: SqlClient,
  trialId: string,
  workerId: string,
  {
    checkpointPath = null,
    leaseSeconds = DEFAULT_LEASE_SECONDS,
  }: { checkpointPath?: string | null; leaseSeconds?: number } = {},
): Promise<ClaimedTrial | null> {
  const rows = await queryRows<ClaimRow>(
    db,
    MARK_RUNNING_SQL,
    [trialId, workerId, checkpointPath, leaseSeconds],
    "ps_mark_running",
  );
  const r = rows[0];
  return r ? claimed(r) : null;
}

// Several claims in one statement. Every row lookup goes through the primary key (`id = ANY($1)`;
// the status tests are written so that no status index can be chosen instead), so the plan stays a
// handful of index probes whatever the table's statistics say: autovacuum may be off, and a
// sweep's status mix changes faster than ANALYZE runs.
// The claim CTEs (c, ct, cs) with their parameters named by the caller: trial ids (uuid[]), worker
// id, checkpoint paths (text[]), lease seconds. `ct` returns the claimed rows; markRunningMany and
// claimAndRecord share them.
const claimCtes = (p: { ids: string; workerId: string; paths: string; lease: string }) => `c AS MATERIALIZED (
  SELECT * FROM unnest(${p.ids}::uuid[], ${p.paths}::text[]) AS c(id, "checkpointPath")
), ct AS (
  UPDATE "Trial" t SET status = 'running', "workerId" = ${p.workerId}, attempts = t.attempts + 1,
    "leaseUntil" = now() + make_interval(secs => ${p.lease}::float8),
    "startedAt" = now(), "updatedAt" = now(), "checkpointPath" = COALESCE(t."checkpointPath", c."checkpointPath")
  FROM c, "Sweep" s
  WHERE t.id = ANY(${p.ids}::uuid[]) AND t.id = c.id AND s.id = t."sweepId" AND t.status::text = 'queued'
    AND ${CLAIMABLE_SWEEP}
  RETURNING t.id::text AS id, t."sweepId", t.attempts, t.config, s.trainer, s."maxAttempts", t."checkpointPath"
), cs AS (
  UPDATE "Sweep" SET status = 'running', "updatedAt" = now()
  WHERE id IN (SELECT DISTINCT "sweepId" FROM ct) AND status = 'queued'
)`;

const CLAIM_COLUMNS = `id, "sweepId"::text AS "sweepId", attempts, config, trainer, "maxAttempts", "checkpointPath"`;

const MARK_RUNNING_MANY_SQL = `
WITH ${claimCtes({ ids: "$1", workerId: "$2", paths: "$3", lease: "$4" })}
SELECT ${CLAIM_COLUMNS} FROM ct`;

/** One claim: trial `trialId`, with the checkpoint path to record if the trial has none yet. */
export interface ClaimRequest {
  trialId: string;
  checkpointPath?: string | null;
}

/**
 * markRunning for several trials in ONE statement (one transaction): each trial is claimed exactly
 * as markRunning claims it. A trial id may appear only once per call (the group commit's key guarantees it).
 * Results are in the order of `claims`; null where markRunning would return null.
 */
export async function markRunningMany(
  db: SqlClient,
  claims: ClaimRequest[],
  workerId: string,
  leaseSeconds = DEFAULT_LEASE_SECONDS,
): Promise<Array<ClaimedTrial | null>> {
  if (!claims.length) return [];
  if (new Set(claims.map((c) => c.trialId.toLowerCase())).size !== claims.length)
    throw new Error("markRunningMany: a trial may be claimed only once per statement");
  if (claims.length === 1) {
    const c = claims[0] as ClaimRequest;
    return [await markRunning(db, c.trialId, workerId, { checkpointPath: c.checkpointPath ?? null, leaseSeconds })];
  }
  const rows = await queryRows<ClaimRow>(
    db,
    MARK_RUNNING_MANY_SQL,
    [claims.map((c) => c.trialId), workerId, claims.map((c) => c.checkpointPath ?? null), leaseSeconds],
    "ps_mark_running_many",
  );
  const byId = new Map<string, ClaimedTrial>();
  for (const r of rows) byId.set(r.id, claimed(r));
  // uuid text is lower case from Postgres; callers may pass any case
  return claims.map((c) => byId.get(c.trialId.toLowerCase()) ?? null);
}

/** One progress point of one attempt. */
export interface MetricPoint {
  step: number;
  tokens: number;
  lr: number;
  trainLoss: number;
  evalLoss?: number | null;
}

const METRIC_COLUMNS = `x(step int, tokens float8, lr float8, "trainLoss" float8, "evalLoss" float8)`;

function metricRows(points: MetricPoint[]): string {
  return JSON.stringify(
    points
      .filter((p) => Number.isFinite(p.trainLoss) && Number.isFinite(p.step))
      .map((p) => ({
        step: Math.round(p.step),
        tokens: p.tokens,
        lr: Number.isFinite(p.lr) ? p.lr : 0,
        trainLoss: p.trainLoss,
        evalLoss: p.evalLoss != null && Number.isFinite(p.evalLoss) ? p.evalLoss : null,
      })),
  );
}

/** Writes progress points in one statement (idempotent on (trialId, step)); non-finite losses are skipped. */
export async function recordMetrics(
  db: SqlClient,
  trialId: string,
  attempt: number,
  points: MetricPoint[],
): Promise<number> {
  if (!points.length) return 0;
  return execute(
    db,
    `INSERT INTO "TrialMetric" ("trialId", attempt, step, tokens, lr, "trainLoss", "evalLoss")
     SELECT $1::uuid, $2, x.step, x.tokens, x.lr, x."trainLoss", x."evalLoss" FROM jsonb_to_recordset($3::jsonb) AS ${METRIC_COLUMNS}
     ON CONFLICT ("trialId", step) DO NOTHING`,
    [trialId, attempt, metricRows(points)],
    "ps_record_metrics",
  );
}

/** The result of one attempt, as the worker records it. */
export interface TrialResultRecord {
  status: TrialOutcome;
  trainLoss?: number | null;
  testLoss?: number | null;
  testPerplexity?: number | null;
  tokensSeen?: number | null;
  wallSeconds?: number | null;
  tokensPerSecond?: number | null;
  error?: string | null;
  errorClass?: string | null;
  checkpointPath?: string | null;
  /** Progress points not yet written; written in the same transaction. */
  metrics?: MetricPoint[];
}

const finite = (x: number | null | undefined) => (x != null && Number.isFinite(x) ? x : null);

/**
 * When a result's own statement still sees more than this many other queued or running trials of
 * its sweep, the sweep cannot be done yet unless that many trials finish at the same instant, so
 * the completion check is skipped (one round trip less per trial). Below it, the check runs after
 * the commit. The reconciler's periodic sweep settling is the backstop.
 */
export const BUSY_SWEEP = 256;

/** What recording one result did. */
export interface RecordOutcome {
  /** This call recorded the result (false: already recorded, or the attempt is not the running one). */
  recorded: boolean;
  /** The sweep may now be done: run completeSweepIfDone after this commit. */
  checkSweep: boolean;
}

const errorText = (e: string | null | undefined) => (e == null ? null : e.replaceAll("\u0000", ""));

const outcome = (recorded: boolean, othersActive: number | null | undefined): RecordOutcome => ({
  recorded,
  checkSweep: !recorded || Number(othersActive ?? 0) <= BUSY_SWEEP,
});

/**
 * Records the result of attempt `attempt` and moves the trial to its final status, in one
 * statement (so one transaction) with any pending metrics. Idempotent: only the running attempt without a result is
 * updated, so a second completion of the same trial and attempt changes nothing. Returns whether
 * this call recorded it.
 */
export async function recordResult(
  db: SqlClient,
  trialId: string,
  attempt: number,
  r: TrialResultRecord,
): Promise<boolean> {
  return (await recordResultDetailed(db, trialId, attempt, r)).recorded;
}

/** recordResult, also telling whether the sweep may now be done. */
export async function recordResultDetailed(
  db: SqlClient,
  trialId: string,
  attempt: number,
  r: TrialResultRecord,
): Promise<RecordOutcome> {
  return (await recordResults(db, [{ trialId, attempt, record: r }]))[0] as RecordOutcome;
}

/** One result to record: attempt `attempt` of trial `trialId`. */
export interface ResultWrite {
  trialId: string;
  attempt: number;
  record: TrialResultRecord;
}

// The result statement, for one result or many. As in the claim, every Trial row is reached
// through the primary key (`id = ANY($2)`, status tests that no status index can serve), so the
// plan does not depend on statistics: with stale ones Postgres used to hash every running trial of
// the table on each write. The busy-sweep count runs once per sweep (MATERIALIZED).
// Without metrics (the usual case: progress points are flushed while training), the metric insert
// is left out of the statement. The CTEs (v, t, m, busy) take their parameters from the caller:
// the results as a JSON array (jsonb) and their trial ids (uuid[]); recordResults and
// claimAndRecord share them.
const resultCtes = (p: { payload: string; ids: string }, withMetrics: boolean) => `v AS MATERIALIZED (
  SELECT * FROM jsonb_to_recordset(${p.payload}::jsonb) AS v(i int, id uuid, attempt int, status text, "trainLoss" float8,
    "testLoss" float8, "testPerplexity" float8, "tokensSeen" float8, "wallSeconds" float8, "tokensPerSecond" float8,
    error text, "errorClass" text, "checkpointPath" text${withMetrics ? ", metrics jsonb" : ""})
), t AS (
  UPDATE "Trial" tr SET status = v.status::"TrialStatus", "resultAttempt" = v.attempt, "finishedAt" = now(), "leaseUntil" = NULL,
    "updatedAt" = now(), "trainLoss" = v."trainLoss", "testLoss" = v."testLoss", "testPerplexity" = v."testPerplexity",
    "tokensSeen" = v."tokensSeen", "wallSeconds" = v."wallSeconds", "tokensPerSecond" = v."tokensPerSecond",
    error = v.error, "errorClass" = v."errorClass", "checkpointPath" = COALESCE(v."checkpointPath", tr."checkpointPath")
  FROM v
  WHERE tr.id = ANY(${p.ids}::uuid[]) AND tr.id = v.id AND tr.attempts = v.attempt AND tr.status::text = 'running'
    AND tr."resultAttempt" IS NULL
  RETURNING tr.id, tr."sweepId", v.i
)${
  withMetrics
    ? `, m AS (
  INSERT INTO "TrialMetric" ("trialId", attempt, step, tokens, lr, "trainLoss", "evalLoss")
  SELECT t.id, v.attempt, x.step, x.tokens, x.lr, x."trainLoss", x."evalLoss"
  FROM t JOIN v ON v.i = t.i, jsonb_to_recordset(v.metrics) AS ${METRIC_COLUMNS}
  ON CONFLICT ("trialId", step) DO NOTHING
)`
    : ""
}, busy AS MATERIALIZED (
  SELECT s."sweepId", (SELECT count(*)::int FROM (SELECT 1 FROM "Trial" o WHERE o."sweepId" = s."sweepId"
      AND o.status IN ('queued', 'running') AND o.id <> ALL(${p.ids}::uuid[]) LIMIT ${BUSY_SWEEP + 1}) b) AS n
  FROM (SELECT DISTINCT "sweepId" FROM t) s
)`;

const RESULT_COLUMNS = `v.i, t.id IS NOT NULL AS recorded, busy.n AS "othersActive"`;
const RESULT_FROM = `v LEFT JOIN t ON t.i = v.i LEFT JOIN busy ON busy."sweepId" = t."sweepId"`;

const recordManySql = (withMetrics: boolean) => `
WITH ${resultCtes({ payload: "$1", ids: "$2" }, withMetrics)}
SELECT ${RESULT_COLUMNS} FROM ${RESULT_FROM}`;

// One result (the usual case with one slot per worker): the same conditions as recordManySql,
// without the JSON payload, by primary key.
const recordOneSql = (withMetrics: boolean) => `
WITH t AS (
  UPDATE "Trial" SET status = $3::text::"TrialStatus", "resultAttempt" = $2, "finishedAt" = now(), "updatedAt" = now(),
    "leaseUntil" = NULL,
    "trainLoss" = $4, "testLoss" = $5, "testPerplexity" = $6, "tokensSeen" = $7, "wallSeconds" = $8,
    "tokensPerSecond" = $9, error = $10, "errorClass" = $11, "checkpointPath" = COALESCE($12, "checkpointPath")
  WHERE id = $1::uuid AND attempts = $2 AND status::text = 'running' AND "resultAttempt" IS NULL
  RETURNING id, "sweepId"
)${
  withMetrics
    ? `, m AS (
  INSERT INTO "TrialMetric" ("trialId", attempt, step, tokens, lr, "trainLoss", "evalLoss")
  SELECT t.id, $2, x.step, x.tokens, x.lr, x."trainLoss", x."evalLoss" FROM t, jsonb_to_recordset($13::jsonb) AS ${METRIC_COLUMNS}
  ON CONFLICT ("trialId", step) DO NOTHING
)`
    : ""
}
SELECT count(*)::int AS n,
  (SELECT count(*)::int FROM (SELECT 1 FROM "Trial" o, t WHERE o."sweepId" = t."sweepId" AND o.status IN ('queued', 'running')
     AND o.id <> t.id LIMIT ${BUSY_SWEEP + 1}) b) AS "othersActive"
FROM t`;

const RECORD_ONE_SQL = recordOneSql(true);
const RECORD_ONE_NO_METRICS_SQL = recordOneSql(false);

const RECORD_MANY_SQL = recordManySql(true);
const RECORD_MANY_NO_METRICS_SQL = recordManySql(false);

/**
 * Records several results in ONE statement (one transaction, one commit flush): each row is the
 * same conditional update as recordResultDetailed (only the running attempt without a result), so
 * every result stays idempotent on its own. A trial may appear only once per call (the result
 * writer guarantees it). Outcomes are in the order of `writes`.
 */
export async function recordResults(db: SqlClient, writes: ResultWrite[]): Promise<RecordOutcome[]> {
  if (!writes.length) return [];
  if (new Set(writes.map((w) => w.trialId.toLowerCase())).size !== writes.length)
    throw new Error("recordResults: a trial may be recorded only once per statement");
  const metrics = writes.map((w) => metricRows(w.record.metrics ?? []));
  const withMetrics = metrics.some((m) => m !== "[]");
  if (writes.length === 1) {
    const { trialId, attempt, record: r } = writes[0] as ResultWrite;
    const params = [
      trialId,
      attempt,
      r.status,
      finite(r.trainLoss),
      finite(r.testLoss),
      finite(r.testPerplexity),
      finite(r.tokensSeen),
      finite(r.wallSeconds),
      finite(r.tokensPerSecond),
      errorText(r.error),
      errorText(r.errorClass),
      r.checkpointPath ?? null,
    ];
    const rows = await queryRows<{ n: number; othersActive: number | null }>(
      db,
      withMetrics ? RECORD_ONE_SQL : RECORD_ONE_NO_METRICS_SQL,
      withMetrics ? [...params, metrics[0]] : params,
      withMetrics ? "ps_record_result_m" : "ps_record_result",
    );
    const row = rows[0];
    return [outcome(Number(row?.n ?? 0) === 1, row?.othersActive)];
  }
  const rows = await queryRows<ResultRow>(
    db,
    withMetrics ? RECORD_MANY_SQL : RECORD_MANY_NO_METRICS_SQL,
    [resultPayload(writes, withMetrics ? metrics : null), writes.map((w) => w.trialId)],
    withMetrics ? "ps_record_results_m" : "ps_record_results",
  );
  return resultOutcomes(writes, rows);
}

/** A row of the result statement's select (RESULT_COLUMNS). */
interface ResultRow {
  i: number;
  recorded: boolean;
  othersActive: number | null;
}

/** The results as the `v` CTE reads them; `metrics` (JSON per write) only when some write has any. */
function resultPayload(writes: ResultWrite[], metrics: string[] | null): string {
  return JSON.stringify(
    writes.map((w, i) => ({
      i,
      id: w.trialId,
      attempt: w.attempt,
      status: w.record.status,
      trainLoss: finite(w.record.trainLoss),
      testLoss: finite(w.record.testLoss),
      testPerplexity: finite(w.record.testPerplexity),
      tokensSeen: finite(w.record.tokensSeen),
      wallSeconds: finite(w.record.wallSeconds),
      tokensPerSecond: finite(w.record.tokensPerSecond),
      error: errorText(w.record.error),
      errorClass: errorText(w.record.errorClass),
      checkpointPath: w.record.checkpointPath ?? null,
      ...(metrics ? { metrics: JSON.parse(metrics[i] as string) as unknown } : {}),
    })),
  );
}

function resultOutcomes(writes: ResultWrite[], rows: ResultRow[]): RecordOutcome[] {
  const out: RecordOutcome[] = writes.map(() => outcome(false, null));
  for (const r of rows) if (writes[Number(r.i)]) out[Number(r.i)] = outcome(Boolean(r.recorded), r.othersActive);
  return out;
}

/** Errors that belong to one row's data, not to the connection: a batch failing with one is retried row by row. */
const isDataError = (e: unknown) => {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" && (code.startsWith("22") || code.startsWith("23"));
};

/**
 * Group commit: `submit(item)` sends the item at once when nothing is in flight; items that arrive
 * meanwhile wait for that write and then go together in one `many` call (at most `maxBatch`, and
 * never two items with the same key in one call: a repeat waits for the next call, so it is applied
 * after the first, as separate calls would). A lone item therefore costs no added latency, and
 * concurrent callers share one round trip and one commit. A promise settles only after its item's
 * statement finished; a failed call rejects every item in it (each caller retries), except a data
 * error, which is retried item by item so one bad item cannot block the others.
 * With `gather`, an idle writer waits for the rest of the current turn of the event loop
 * (setImmediate) before it sends, so items submitted together (one job's result and the next job's
 * claim) share a statement.
 */
export function createGroupCommit<I, O>(
  many: (items: I[]) => Promise<O[]>,
  { maxBatch = 64, key, gather = false }: { maxBatch?: number; key: (item: I) => string; gather?: boolean },
): (item: I) => Promise<O> {
  type Pending = { item: I; resolve: (o: O) => void; reject: (e: unknown) => void };
  let pending: Pending[] = [];
  let writing = false;
  const take = (): Pending[] => {
    const batch: Pending[] = [];
    const keys = new Set<string>();
    const rest: Pending[] = [];
    for (const p of pending) {
      const k = key(p.item);
      if (batch.length < maxBatch && !keys.has(k)) {
        keys.add(k);
        batch.push(p);
      } else rest.push(p);
    }
    pending = rest;
    return batch;
  };
  async function drain() {
    writing = true;
    try {
      while (pending.length) {
        const batch = take();
        try {
          const out = await many(batch.map((b) => b.item));
          for (const [i, b] of batch.entries()) b.resolve(out[i] as O);
        } catch (e) {
          if (batch.length > 1 && isDataError(e)) {
            for (const b of batch) await many([b.item]).then((o) => b.resolve(o[0] as O), b.reject);
          } else {
            for (const b of batch) b.reject(e);
          }
        }
      }
    } finally {
      writing = false;
    }
  }
  return (item) =>
    new Promise<O>((resolve, reject) => {
      pending.push({ item, resolve, reject });
      if (writing) return;
      writing = true;
      if (gather) setImmediate(() => void drain());
      else void drain();
    });
}

export interface ResultWriter {
  /** Records one result, grouped with the others that arrive while a write is in flight. */
  record(trialId: string, attempt: number, r: TrialResultRecord): Promise<RecordOutcome>;
}

export interface Claimer {
  /** Claims one trial (as markRunning does), grouped with the claims that arrive while one is in flight. */
  claim(trialId: string, opts?: { checkpointPath?: string | null }): Promise<ClaimedTrial | null>;
}

const claimAndRecordSql = (withMetrics: boolean) => `
WITH ${claimCtes({ ids: "$1", workerId: "$2", paths: "$3", lease: "$6" })}, ${resultCtes({ payload: "$4", ids: "$5" }, withMetrics)}
SELECT NULL::int AS i, ${CLAIM_COLUMNS}, NULL::boolean AS recorded, NULL::int AS "othersActive" FROM ct
UNION ALL
SELECT v.i, NULL, NULL, NULL, NULL, NULL, NULL, NULL, ${RESULT_COLUMNS.replace("v.i, ", "")} FROM ${RESULT_FROM}`;

const CLAIM_AND_RECORD_SQL = claimAndRecordSql(true);
const CLAIM_AND_RECORD_NO_METRICS_SQL = claimAndRecordSql(false);

/**
 * markRunningMany and recordResults in ONE statement (one transaction, committed synchronously):
 * each claim is made exactly as markRunning makes it and each result recorded exactly as
 * recordResults records it (the claims and the results touch different trials: a trial may appear
 * only once per call). This saves a round trip and a transaction when one job's result and the next
 * job's claim are ready together. Outcomes are in the order of `claims` and of `writes`.
 */
export async function claimAndRecord(
  db: SqlClient,
  workerId: string,
  claims: ClaimRequest[],
  writes: ResultWrite[],
  leaseSeconds = DEFAULT_LEASE_SECONDS,
): Promise<{ claimed: Array<ClaimedTrial | null>; recorded: RecordOutcome[] }> {
  if (!claims.length || !writes.length)
    return {
      claimed: await markRunningMany(db, claims, workerId, leaseSeconds),
      recorded: await recordResults(db, writes),
    };
  const ids = [...claims.map((c) => c.trialId), ...writes.map((w) => w.trialId)].map((id) => id.toLowerCase());
  if (new Set(ids).size !== ids.length) throw new Error("claimAndRecord: a trial may appear only once per statement");
  const metrics = writes.map((w) => metricRows(w.record.metrics ?? []));
  const withMetrics = metrics.some((m) => m !== "[]");
  const rows = await queryRows<ClaimRow & ResultRow>(
    db,
    withMetrics ? CLAIM_AND_RECORD_SQL : CLAIM_AND_RECORD_NO_METRICS_SQL,
    [
      claims.map((c) => c.trialId),
      workerId,
      claims.map((c) => c.checkpointPath ?? null),
      resultPayload(writes, withMetrics ? metrics : null),
      writes.map((w) => w.trialId),
      leaseSeconds,
    ],
    withMetrics ? "ps_claim_and_record_m" : "ps_claim_and_record",
  );
  const byId = new Map<string, ClaimedTrial>();
  for (const r of rows) if (r.i == null) byId.set(r.id, claimed(r));
  return {
    claimed: claims.map((c) => byId.get(c.trialId.toLowerCase()) ?? null),
    recorded: resultOutcomes(
      writes,
      rows.filter((r) => r.i != null),
    ),
  };
}

export interface TrialWriter extends Claimer, ResultWriter {}

type TrialWrite = { claim: ClaimRequest; result?: never } | { result: ResultWrite; claim?: never };

/**
 * The worker's Postgres writer: claims and results through one group commit. Claims alone go to
 * `claimDb` (markRunningMany: a claim can be redone, so that pool may commit without waiting for
 * the WAL flush), results alone to `resultDb` (recordResults, durable), and claims and results
 * that are ready together to `resultDb` in one statement (claimAndRecord): with one slot, each
 * trial's result then travels with the next trial's claim, one round trip and one commit for both.
 * Every promise resolves only after its own row's transaction committed.
 */
export function createTrialWriter(
  {
    claimDb,
    resultDb,
    workerId,
    leaseSeconds = DEFAULT_LEASE_SECONDS,
  }: { claimDb: SqlClient; resultDb: SqlClient; workerId: string; leaseSeconds?: number },
  { maxBatch = 64 }: { maxBatch?: number } = {},
): TrialWriter {
  const submit = createGroupCommit(
    async (items: TrialWrite[]): Promise<Array<ClaimedTrial | null | RecordOutcome>> => {
      const claims = items.flatMap((x) => (x.claim ? [x.claim] : []));
      const writes = items.flatMap((x) => (x.result ? [x.result] : []));
      let claimed: Array<ClaimedTrial | null> = [];
      let recorded: RecordOutcome[] = [];
      if (!writes.length) claimed = await markRunningMany(claimDb, claims, workerId, leaseSeconds);
      else if (!claims.length) recorded = await recordResults(resultDb, writes);
      else ({ claimed, recorded } = await claimAndRecord(resultDb, workerId, claims, writes, leaseSeconds));
      let c = 0;
      let r = 0;
      return items.map((x) => (x.claim ? (claimed[c++] ?? null) : (recorded[r++] as RecordOutcome)));
    },
    { maxBatch, key: (x) => (x.claim ? x.claim.trialId : x.result.trialId).toLowerCase(), gather: true },
  );
  return {
    claim: (trialId, opts = {}) =>
      submit({ claim: { trialId, checkpointPath: opts.checkpointPath ?? null } }) as Promise<ClaimedTrial | null>,
    record: (trialId, attempt, record) => submit({ result: { trialId, attempt, record } }) as Promise<RecordOutcome>,
  };
}

/**
 * Puts a running attempt back to queued (graceful shutdown, or a crash with attempts left): the
 * job is retried and the next attempt resumes from `checkpointPath`. Returns whether it changed.
 */
export async function releaseTrial(
  db: SqlClient,
  trialId: string,
  attempt: number,
  {
    error = null,
    errorClass = null,
    checkpointPath = null,
  }: { error?: string | null; errorClass?: string | null; checkpointPath?: string | null } = {},
): Promise<boolean> {
  const n = await execute(
    db,
    `UPDATE "Trial" SET status = 'queued', "workerId" = NULL, "leaseUntil" = NULL, "updatedAt" = now(), error = $3, "errorClass" = $4,
       "checkpointPath" = COALESCE($5, "checkpointPath")
     WHERE id = $1::uuid AND attempts = $2 AND status = 'running' AND "resultAttempt" IS NULL`,
    [trialId, attempt, error, errorClass, checkpointPath],
  );
  return n === 1;
}

/**
 * Marks a sweep completed when none of its trials is queued or running. Run it after the result's
 * commit: of two trials finishing at once, the later commit's check sees both, so the last result
 * always completes the sweep. Returns whether it changed.
 */
export async function completeSweepIfDone(db: SqlClient, sweepId: string): Promise<boolean> {
  const n = await execute(
    db,
    `UPDATE "Sweep" s SET status = 'completed', "finishedAt" = now(), "updatedAt" = now()
     WHERE s.id = $1::uuid AND s.status IN ('queued', 'running')
       AND NOT EXISTS (SELECT 1 FROM "Trial" t WHERE t."sweepId" = s.id AND t.status IN ('queued', 'running'))`,
    [sweepId],
  );
  return n === 1;
}

/**
 * The heartbeat's lease renewal: every trial of `trialIds` that this worker still runs gets its
 * lease extended to now + leaseSeconds, in one statement. Returns the ids it still holds; a trial
 * left out was cancelled, finished, or taken away after its lease expired, and must stop.
 */
export async function renewLeases(
  db: SqlClient,
  workerId: string,
  trialIds: string[],
  leaseSeconds = DEFAULT_LEASE_SECONDS,
): Promise<Set<string>> {
  if (!trialIds.length) return new Set();
  const rows = await queryRows<{ id: string }>(
    db,
    `UPDATE "Trial" SET "leaseUntil" = now() + make_interval(secs => $3::float8)
     WHERE id = ANY($1::uuid[]) AND "workerId" = $2 AND status = 'running' RETURNING id::text AS id`,
    [trialIds, workerId, leaseSeconds],
    "ps_renew_leases",
  );
  return new Set(rows.map((r) => r.id));
}

/**
 * Why a trial could not be claimed: `wait` while its sweep is still being accepted (the job should
 * come back later), `skip` otherwise (finished, running elsewhere, cancelled, or gone).
 */
export async function claimBlocker(db: SqlClient, trialId: string): Promise<"wait" | "skip"> {
  const rows = await queryRows<{ status: string }>(
    db,
    `SELECT s.status::text AS status FROM "Trial" t JOIN "Sweep" s ON s.id = t."sweepId"
     WHERE t.id = $1::uuid AND t.status = 'queued'`,
    [trialId],
    "ps_claim_blocker",
  );
  return rows[0]?.status === "creating" ? "wait" : "skip";
}
