// Trial lifecycle on Postgres, as the worker drives it. Postgres is the record: every transition is
// one conditional statement, so retries, duplicate deliveries and stalled-job re-runs are safe.
//   markRunning   queued|running → running (attempts + 1), one UPDATE … RETURNING; the sweep
//                 becomes running in the same statement
//   recordMetrics batched TrialMetric rows (skipDuplicates on (trialId, step))
//   recordResult  the result and the final status in one transaction, only for the attempt that
//                 is running and has no result yet (a second completion changes nothing)
//   releaseTrial  running → queued (shutdown, or a crash with attempts left)
//   completeSweepIfDone  a sweep with nothing queued or running becomes completed
import type { Db } from "@powersweep/db";

/**
 * A plain SQL pool (node-postgres `Pool` fits): the worker's hot path uses one, because each
 * Prisma raw query costs far more CPU than the round trip itself. Every function here takes either.
 */
export interface SqlPool {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[]; rowCount: number | null }>;
}
export type SqlClient = Db | SqlPool;

const isPrisma = (c: SqlClient): c is Db => "$queryRawUnsafe" in c;

async function queryRows<T>(c: SqlClient, sql: string, params: unknown[]): Promise<T[]> {
  if (isPrisma(c)) return c.$queryRawUnsafe<T[]>(sql, ...params);
  return (await c.query(sql, params)).rows as T[];
}

async function execute(c: SqlClient, sql: string, params: unknown[]): Promise<number> {
  if (isPrisma(c)) return c.$executeRawUnsafe(sql, ...params);
  return (await c.query(sql, params)).rowCount ?? 0;
}

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

const MARK_RUNNING_SQL = `
WITH t AS (
  UPDATE "Trial" t SET status = 'running', "workerId" = $2, attempts = t.attempts + 1,
    "startedAt" = now(), "updatedAt" = now(), "checkpointPath" = COALESCE(t."checkpointPath", $3)
  FROM "Sweep" s
  WHERE t.id = $1::uuid AND s.id = t."sweepId" AND t.status IN ('queued', 'running') AND s.status <> 'cancelled'
  RETURNING t.id::text AS id, t."sweepId"::text AS "sweepId", t.attempts, t.config, s.trainer, s."maxAttempts",
    t."checkpointPath", s.status AS "sweepStatus"
), s AS (
  UPDATE "Sweep" SET status = 'running', "updatedAt" = now()
  WHERE id = (SELECT "sweepId"::uuid FROM t) AND status = 'queued'
)
SELECT id, "sweepId", attempts, config, trainer, "maxAttempts", "checkpointPath" FROM t`;

/**
 * Claims a trial for this worker: queued|running → running, attempts + 1, startedAt = now, and its
 * sweep queued → running, in one statement. Returns null when the trial is finished, missing, or
 * its sweep is cancelled: the job then completes without training.
 */
export async function markRunning(
  db: SqlClient,
  trialId: string,
  workerId: string,
  { checkpointPath = null }: { checkpointPath?: string | null } = {},
): Promise<ClaimedTrial | null> {
  const rows = await queryRows<{
    id: string;
    sweepId: string;
    attempts: number;
    config: unknown;
    trainer: string;
    maxAttempts: number;
    checkpointPath: string | null;
  }>(db, MARK_RUNNING_SQL, [trialId, workerId, checkpointPath]);
  const r = rows[0];
  if (!r) return null;
  return {
    id: r.id,
    sweepId: r.sweepId,
    attempt: Number(r.attempts),
    config: r.config,
    trainer: r.trainer,
    maxAttempts: Number(r.maxAttempts),
    checkpointPath: r.checkpointPath,
  };
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

const RECORD_SQL = `
WITH t AS (
UPDATE "Trial" SET status = $3::text::"TrialStatus", "resultAttempt" = $2, "finishedAt" = now(), "updatedAt" = now(),
  "trainLoss" = $4, "testLoss" = $5, "testPerplexity" = $6, "tokensSeen" = $7, "wallSeconds" = $8,
  "tokensPerSecond" = $9, error = $10, "errorClass" = $11, "checkpointPath" = COALESCE($12, "checkpointPath")
WHERE id = $1::uuid AND attempts = $2 AND status = 'running' AND "resultAttempt" IS NULL
RETURNING id, "sweepId"
), m AS (
  INSERT INTO "TrialMetric" ("trialId", attempt, step, tokens, lr, "trainLoss", "evalLoss")
  SELECT t.id, $2, x.step, x.tokens, x.lr, x."trainLoss", x."evalLoss" FROM t, jsonb_to_recordset($13::jsonb) AS ${METRIC_COLUMNS}
  ON CONFLICT ("trialId", step) DO NOTHING
)
SELECT count(*)::int AS n,
  (SELECT count(*)::int FROM (SELECT 1 FROM "Trial" o, t WHERE o."sweepId" = t."sweepId" AND o.status IN ('queued', 'running')
     AND o.id <> t.id LIMIT ${BUSY_SWEEP + 1}) b) AS "othersActive"
FROM t`;

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

/**
 * recordResult, also telling whether the sweep may now be done (`checkSweep`: run
 * completeSweepIfDone after this commit).
 */
export async function recordResultDetailed(
  db: SqlClient,
  trialId: string,
  attempt: number,
  r: TrialResultRecord,
): Promise<{ recorded: boolean; checkSweep: boolean }> {
  const rows = await queryRows<{ n: number; othersActive: number | null }>(db, RECORD_SQL, [
    trialId,
    attempt,
    r.status,
    finite(r.trainLoss),
    finite(r.testLoss),
    finite(r.testPerplexity),
    finite(r.tokensSeen),
    finite(r.wallSeconds),
    finite(r.tokensPerSecond),
    r.error ?? null,
    r.errorClass ?? null,
    r.checkpointPath ?? null,
    metricRows(r.metrics ?? []),
  ]);
  const recorded = Number(rows[0]?.n ?? 0) === 1;
  return { recorded, checkSweep: !recorded || Number(rows[0]?.othersActive ?? 0) <= BUSY_SWEEP };
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
    `UPDATE "Trial" SET status = 'queued', "workerId" = NULL, "updatedAt" = now(), error = $3, "errorClass" = $4,
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

/** Ids of the given sweeps that are cancelled (the worker polls this for its running trials). */
export async function cancelledSweeps(db: SqlClient, sweepIds: string[]): Promise<string[]> {
  if (!sweepIds.length) return [];
  const rows = await queryRows<{ id: string }>(
    db,
    `SELECT id::text AS id FROM "Sweep" WHERE id = ANY($1::uuid[]) AND status = 'cancelled'`,
    [sweepIds],
  );
  return rows.map((r) => r.id);
}
