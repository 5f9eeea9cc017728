// Offline batches: trials run on a cluster whose compute nodes cannot reach Postgres or Redis
// (Slurm job arrays, air-gapped batch systems). docs/offline.md describes the whole round trip.
//   claimTrialsForExport  queued → running for an export batch, in ONE statement: workerId
//                         `export:<batch>`, attempts + 1. Workers never claim such a trial (their
//                         claim skips export-held rows), so a trial is run by the batch or by a
//                         worker, never both.
//   importOfflineResults  records the batch's results through recordResults, keyed by trial id and
//                         attempt: a second import of the same file changes nothing, a result for
//                         an attempt that is no longer the batch's (released, re-exported) is refused.
//   releaseExport         the batch's unfinished trials back to queued (their attempt stays used).
import type { TrialConfig } from "@powersweep/spec";
import { claimed } from "./claims.ts";
import {
  completeSweepIfDone,
  type MetricPoint,
  type RecordOutcome,
  type ResultWrite,
  recordResults,
  type TrialResultRecord,
} from "./results.ts";
import { queryRows, type SqlClient } from "./sql.ts";
import { CLAIM_RETURNING, CLAIM_SELECT, type ClaimRow } from "./trialRow.ts";

/** The workerId prefix of trials held by an export batch. */
export const EXPORT_WORKER_PREFIX = "export:";

/** The workerId that marks a trial as held by export batch `batch`. */
export const exportWorkerId = (batch: string) => `${EXPORT_WORKER_PREFIX}${batch}`;

/** Batch ids go into file names and workerIds: short, plain. */
export const EXPORT_BATCH_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A trial as an export batch carries it to the cluster. */
export interface ExportedTrial {
  trialId: string;
  sweepId: string;
  /** The attempt this batch runs (the result must name it). */
  attempt: number;
  trainer: string;
  config: TrialConfig;
}

// One statement: the queued trials of the sweep (at most $3, oldest first, stable order by id)
// become running for the batch. `FOR UPDATE SKIP LOCKED` keeps a concurrent worker claim or a second
// export from waiting on (or taking) the same rows; the `status = 'queued'` test in the UPDATE is
// what makes the claim exclusive.
const CLAIM_FOR_EXPORT_SQL = `
WITH pick AS (
  SELECT t.id FROM "Trial" t
  WHERE t."sweepId" = $1::uuid AND t.status = 'queued'
  ORDER BY t."createdAt", t.id
  LIMIT $3
  FOR UPDATE SKIP LOCKED
), ct AS (
  UPDATE "Trial" t SET status = 'running', "workerId" = $2, attempts = t.attempts + 1,
    -- An export batch has no heartbeat: its lease never expires, so the sweeper leaves it alone
    -- until the batch's results are imported or it is released.
    "leaseUntil" = 'infinity', "startedAt" = now(), "updatedAt" = now()
  FROM pick, "Sweep" s
  WHERE t.id = pick.id AND s.id = t."sweepId" AND t.status = 'queued' AND s.status IN ('queued', 'running')
  RETURNING ${CLAIM_RETURNING}, t."createdAt"
), cs AS (
  UPDATE "Sweep" SET status = 'running', "updatedAt" = now()
  WHERE id = $1::uuid AND status = 'queued' AND EXISTS (SELECT 1 FROM ct)
)
SELECT ${CLAIM_SELECT} FROM ct ORDER BY "createdAt", id`;

/**
 * Claims up to `limit` queued trials of a sweep for export batch `batch`, in one UPDATE … WHERE
 * status = 'queued': status running, workerId `export:<batch>`, attempts + 1. This is the one place
 * an export takes trials; when trials carry a lease, the batch's (long) lease belongs here.
 * Returns the claimed trials with the attempt each must report.
 */
export async function claimTrialsForExport(
  db: SqlClient,
  sweepId: string,
  batch: string,
  { limit = 100_000 }: { limit?: number } = {},
): Promise<ExportedTrial[]> {
  if (!EXPORT_BATCH_PATTERN.test(batch)) throw new Error(`export batch "${batch}" must match ${EXPORT_BATCH_PATTERN}`);
  const rows = await queryRows<ClaimRow>(db, CLAIM_FOR_EXPORT_SQL, [sweepId, exportWorkerId(batch), limit]);
  return rows.map(claimed).map((t) => ({
    trialId: t.id,
    sweepId: t.sweepId,
    attempt: t.attempt,
    trainer: t.trainer,
    config: t.config as TrialConfig,
  }));
}

/** One trial's outcome as an export task wrote it (the trainer's result line, or its error). */
export interface OfflineResult {
  trialId: string;
  attempt: number;
  /** The trainer's result (exec protocol `result` line), absent when it reported an error. */
  result?: {
    status: "succeeded" | "diverged" | "aborted";
    trainLoss?: number | null;
    testLoss?: number | null;
    testPerplexity?: number | null;
    tokensSeen?: number | null;
    wallSeconds?: number | null;
    tokensPerSecond?: number | null;
    reason?: string | null;
  };
  /** The trainer's error (exec protocol `error` line, or a crash without any line). */
  error?: { class: string; message: string };
  /** Progress points (the trainer's progress lines). */
  metrics?: MetricPoint[];
}

/** What an import did with each result. */
export type ImportOutcome =
  /** recorded now */
  | "recorded"
  /** this trial and attempt already has its result (a re-import) */
  | "duplicate"
  /** the trial is not held by an export batch at this attempt (released, or run by a worker) */
  | "not-held"
  /** the trainer crashed or was stopped: nothing recorded, the trial stays held until released */
  | "unfinished"
  /** no such trial */
  | "unknown";

export interface ImportReport {
  outcomes: Array<{ trialId: string; attempt: number; outcome: ImportOutcome }>;
  counts: Record<ImportOutcome, number>;
  /** Sweeps that got results (their fits should be requested). */
  sweepIds: string[];
}

interface HeldRow {
  id: string;
  sweepId: string;
  status: string;
  attempts: number;
  workerId: string | null;
  resultAttempt: number | null;
}

/** The record a worker would write for the same trainer outcome; null when nothing is recorded. */
function resultRecord(r: OfflineResult): TrialResultRecord | null {
  if (r.result && r.result.status !== "aborted") {
    const diverged = r.result.status === "diverged";
    return {
      status: diverged ? "diverged" : "succeeded",
      trainLoss: r.result.trainLoss ?? null,
      testLoss: r.result.testLoss ?? null,
      testPerplexity: r.result.testPerplexity ?? null,
      tokensSeen: r.result.tokensSeen ?? null,
      wallSeconds: r.result.wallSeconds ?? null,
      tokensPerSecond: r.result.tokensPerSecond ?? null,
      error: diverged ? (r.result.reason ?? "diverged") : null,
      errorClass: diverged ? "diverged" : null,
    };
  }
  // A config the trainer refuses fails for good, as on a worker; a crash may be retried.
  if (!r.result && r.error?.class === "invalid-config")
    return { status: "failed", error: r.error.message, errorClass: "invalid-config" };
  return null;
}

/**
 * Records offline results exactly once. Each result is keyed by (trial id, attempt) and recorded
 * only while that attempt is held by an export batch and has no result: a re-import, a result of
 * a released or re-exported attempt, or a trial a worker ran meanwhile changes nothing. Sweeps
 * left with nothing queued or running are completed.
 */
export async function importOfflineResults(db: SqlClient, results: OfflineResult[]): Promise<ImportReport> {
  const counts: Record<ImportOutcome, number> = { recorded: 0, duplicate: 0, "not-held": 0, unfinished: 0, unknown: 0 };
  const outcomes: ImportReport["outcomes"] = [];
  // the last result per trial wins inside one import (a task re-run writes the same attempt again)
  const byTrial = new Map<string, OfflineResult>();
  for (const r of results) byTrial.set(r.trialId.toLowerCase(), r);
  const unique = [...byTrial.values()];
  const rows = unique.length
    ? await queryRows<HeldRow>(
        db,
        `SELECT id::text AS id, "sweepId"::text AS "sweepId", status::text AS status, attempts, "workerId", "resultAttempt"
         FROM "Trial" WHERE id = ANY($1::uuid[])`,
        [unique.map((r) => r.trialId)],
      )
    : [];
  const held = new Map(rows.map((r) => [r.id, r]));
  const writes: ResultWrite[] = [];
  const pending: OfflineResult[] = [];
  const classify = (r: OfflineResult): ImportOutcome | null => {
    const row = held.get(r.trialId.toLowerCase());
    if (!row) return "unknown";
    if (row.resultAttempt != null && Number(row.resultAttempt) === r.attempt) return "duplicate";
    const ours =
      row.status === "running" &&
      Number(row.attempts) === r.attempt &&
      row.resultAttempt == null &&
      (row.workerId ?? "").startsWith(EXPORT_WORKER_PREFIX);
    if (!ours) return "not-held";
    const record = resultRecord(r);
    if (!record) return "unfinished";
    writes.push({ trialId: row.id, attempt: r.attempt, record: { ...record, metrics: r.metrics ?? [] } });
    pending.push(r);
    return null;
  };
  const early = new Map<OfflineResult, ImportOutcome>();
  for (const r of unique) {
    const o = classify(r);
    if (o) early.set(r, o);
  }
  const recorded: RecordOutcome[] = [];
  for (let i = 0; i < writes.length; i += 200) recorded.push(...(await recordResults(db, writes.slice(i, i + 200))));
  const late = new Map<OfflineResult, ImportOutcome>();
  for (const [i, r] of pending.entries()) late.set(r, recorded[i]?.recorded ? "recorded" : "duplicate");
  const sweepIds = new Set<string>();
  for (const r of unique) {
    const outcome = early.get(r) ?? late.get(r) ?? "unknown";
    counts[outcome]++;
    outcomes.push({ trialId: r.trialId, attempt: r.attempt, outcome });
    if (outcome === "recorded") sweepIds.add(held.get(r.trialId.toLowerCase())?.sweepId as string);
  }
  for (const id of sweepIds) await completeSweepIfDone(db, id);
  return { outcomes, counts, sweepIds: [...sweepIds] };
}

/**
 * Gives an export batch's unfinished trials back to the queue: running → queued, workerId cleared
 * (the used attempt stays counted). Only trials still held by this batch without a result change;
 * `trialIds` narrows it to those. Returns the released trials (the caller enqueues their jobs).
 */
export async function releaseExport(
  db: SqlClient,
  batch: string,
  { trialIds }: { trialIds?: string[] } = {},
): Promise<Array<{ trialId: string; sweepId: string; maxAttempts: number; priority: number }>> {
  const rows = await queryRows<{ trialId: string; sweepId: string; maxAttempts: number; priority: number }>(
    db,
    `UPDATE "Trial" t SET status = 'queued', "workerId" = NULL, "leaseUntil" = NULL, "updatedAt" = now()
     FROM "Sweep" s
     WHERE s.id = t."sweepId" AND t."workerId" = $1 AND t.status = 'running' AND t."resultAttempt" IS NULL
       AND ($2::uuid[] IS NULL OR t.id = ANY($2::uuid[]))
     RETURNING t.id::text AS "trialId", t."sweepId"::text AS "sweepId", s."maxAttempts", s.priority`,
    [exportWorkerId(batch), trialIds ?? null],
  );
  return rows.map((r) => ({ ...r, maxAttempts: Number(r.maxAttempts), priority: Number(r.priority) }));
}
