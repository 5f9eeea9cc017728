// Results on Postgres, as the worker records them (see claims.ts for the claims before them):
//   recordMetrics batched TrialMetric rows (skipDuplicates on (trialId, step))
//   recordResult  the result and the final status in one transaction, only for the attempt that
//                 is running and has no result yet (a second completion changes nothing)
//   recordResults the same for several results in one statement
//   completeSweepIfDone  a sweep with nothing queued or running becomes completed (not a searched
//                 one: its search step completes it, search.ts)
// trialWriter.ts groups claims and results (group commit) into one statement.
import { execute, queryRows, type SqlClient } from "./sql.ts";
import { recordDefinition, resultAssignments, TRIAL_RESULT_COLUMNS } from "./trialRow.ts";

export type { SqlClient, SqlPool } from "./sql.ts";

export type TrialOutcome = "succeeded" | "diverged" | "failed" | "cancelled";

/** One progress point of one attempt. */
export interface MetricPoint {
  step: number;
  tokens: number;
  lr: number;
  trainLoss: number;
  evalLoss?: number | null;
}

const METRIC_COLUMNS = `x(step int, tokens float8, lr float8, "trainLoss" float8, "evalLoss" float8)`;

export function metricRows(points: MetricPoint[]): string {
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

/** A result's TRIAL_RESULT_COLUMNS values, in order, as Postgres takes them (null for a non-finite number). */
const resultValues = (r: TrialResultRecord) =>
  TRIAL_RESULT_COLUMNS.map((c) =>
    c.type === "text"
      ? errorText(r[c.name] as string | null | undefined)
      : finite(r[c.name] as number | null | undefined),
  );

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
export const resultCtes = (p: { payload: string; ids: string }, withMetrics: boolean) => `v AS MATERIALIZED (
  SELECT * FROM jsonb_to_recordset(${p.payload}::jsonb) AS v(i int, id uuid, attempt int, status text,
    ${recordDefinition(TRIAL_RESULT_COLUMNS)}, "checkpointPath" text${withMetrics ? ", metrics jsonb" : ""})
), t AS (
  UPDATE "Trial" tr SET status = v.status::"TrialStatus", "resultAttempt" = v.attempt, "finishedAt" = now(), "leaseUntil" = NULL,
    "updatedAt" = now(), ${resultAssignments({ alias: "v" })},
    "checkpointPath" = COALESCE(v."checkpointPath", tr."checkpointPath")
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

export const RESULT_COLUMNS = `v.i, t.id IS NOT NULL AS recorded, busy.n AS "othersActive"`;
export const RESULT_FROM = `v LEFT JOIN t ON t.i = v.i LEFT JOIN busy ON busy."sweepId" = t."sweepId"`;

const recordManySql = (withMetrics: boolean) => `
WITH ${resultCtes({ payload: "$1", ids: "$2" }, withMetrics)}
SELECT ${RESULT_COLUMNS} FROM ${RESULT_FROM}`;

// One result (the usual case with one slot per worker): the same conditions as recordManySql,
// without the JSON payload, by primary key: $1 trial id, $2 attempt, $3 status, then the result
// columns, the checkpoint path and the metrics.
const ONE_CHECKPOINT = 4 + TRIAL_RESULT_COLUMNS.length;
const recordOneSql = (withMetrics: boolean) => `
WITH t AS (
  UPDATE "Trial" SET status = $3::text::"TrialStatus", "resultAttempt" = $2, "finishedAt" = now(), "updatedAt" = now(),
    "leaseUntil" = NULL, ${resultAssignments({ first: 4 })},
    "checkpointPath" = COALESCE($${ONE_CHECKPOINT}, "checkpointPath")
  WHERE id = $1::uuid AND attempts = $2 AND status::text = 'running' AND "resultAttempt" IS NULL
  RETURNING id, "sweepId"
)${
  withMetrics
    ? `, m AS (
  INSERT INTO "TrialMetric" ("trialId", attempt, step, tokens, lr, "trainLoss", "evalLoss")
  SELECT t.id, $2, x.step, x.tokens, x.lr, x."trainLoss", x."evalLoss" FROM t, jsonb_to_recordset($${ONE_CHECKPOINT + 1}::jsonb) AS ${METRIC_COLUMNS}
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
    const params = [trialId, attempt, r.status, ...resultValues(r), r.checkpointPath ?? null];
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
export interface ResultRow {
  i: number;
  recorded: boolean;
  othersActive: number | null;
}

/** The results as the `v` CTE reads them; `metrics` (JSON per write) only when some write has any. */
export function resultPayload(writes: ResultWrite[], metrics: string[] | null): string {
  return JSON.stringify(
    writes.map((w, i) => ({
      i,
      id: w.trialId,
      attempt: w.attempt,
      status: w.record.status,
      ...Object.fromEntries(resultValues(w.record).map((x, j) => [TRIAL_RESULT_COLUMNS[j]?.name, x])),
      checkpointPath: w.record.checkpointPath ?? null,
      ...(metrics ? { metrics: JSON.parse(metrics[i] as string) as unknown } : {}),
    })),
  );
}

export function resultOutcomes(writes: ResultWrite[], rows: ResultRow[]): RecordOutcome[] {
  const out: RecordOutcome[] = writes.map(() => outcome(false, null));
  for (const r of rows) if (writes[Number(r.i)]) out[Number(r.i)] = outcome(Boolean(r.recorded), r.othersActive);
  return out;
}

/**
 * A sweep whose lr axis is searched (`axes.lr.search`) is completed by its search step
 * (search.ts, after a refit) once every cell's search has ended, never by the trial counts alone:
 * with nothing queued or running it may still have search steps to run.
 */
export const NOT_SEARCHED_SQL = `(s.spec #> '{axes,lr,search}') IS NULL`;

/**
 * Marks a sweep completed when none of its trials is queued or running (a searched sweep: see
 * NOT_SEARCHED_SQL). Run it after the result's commit: of two trials finishing at once, the later
 * commit's check sees both, so the last result always completes the sweep. Returns whether it changed.
 */
export async function completeSweepIfDone(db: SqlClient, sweepId: string): Promise<boolean> {
  const n = await execute(
    db,
    `UPDATE "Sweep" s SET status = 'completed', "finishedAt" = now(), "updatedAt" = now()
     WHERE s.id = $1::uuid AND s.status IN ('queued', 'running') AND ${NOT_SEARCHED_SQL}
       AND NOT EXISTS (SELECT 1 FROM "Trial" t WHERE t."sweepId" = s.id AND t.status IN ('queued', 'running'))`,
    [sweepId],
  );
  return n === 1;
}
