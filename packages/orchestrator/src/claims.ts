// Claims and leases on Postgres, as the worker drives them. Postgres is the record: every
// transition is one conditional statement, so retries, duplicate deliveries and stalled-job re-runs
// are safe.
//   markRunning   queued → running (attempts + 1, a lease until now + leaseSeconds), one
//                 UPDATE … RETURNING, only for a trial of an accepted sweep (not creating, not
//                 cancelled); the sweep becomes running in the same statement
//   markRunningMany  the same for several trials in one statement
//   renewLeases   the heartbeat: extends the leases this worker still holds; a trial missing from
//                 the answer was cancelled or taken away (its lease expired) and must stop
//   releaseTrial  running → queued (shutdown, or a crash with attempts left)
//   claimBlocker  why a trial could not be claimed
// A trial whose lease expired is queued again or failed by the sweeper (reconcile.ts).
import { BRANCH_READY } from "./branches.ts";
import { execute, queryRows, type SqlClient } from "./sql.ts";
import { CLAIM_RETURNING, CLAIM_SELECT, type ClaimRow } from "./trialRow.ts";

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
  /** The trial's key: a trunk host's branches name it (branches.ts). */
  key: string;
  /** Shared trunks: the trial this one branches from, null when it trains from scratch (or hosts a trunk). */
  branchFrom: string | null;
  branchStep: number | null;
  /** The saved trunk checkpoint this branch starts from (set before the branch can be claimed). */
  branchCheckpoint: string | null;
}

/** Default lease of a running trial: its worker's heartbeat must renew it within this time. */
export const DEFAULT_LEASE_SECONDS = 60;

/**
 * Sweep statuses whose trials a worker may claim (a `creating` sweep's trials are invisible), and
 * no branch waiting for its trunk checkpoint (branches.ts).
 */
const CLAIMABLE_SWEEP = `s.status::text IN ('queued', 'running', 'completed') AND ${BRANCH_READY}`;

const MARK_RUNNING_SQL = `
WITH t AS (
  UPDATE "Trial" t SET status = 'running', "workerId" = $2, attempts = t.attempts + 1,
    "leaseUntil" = now() + make_interval(secs => $4::float8),
    "startedAt" = now(), "updatedAt" = now(), "checkpointPath" = COALESCE(t."checkpointPath", $3)
  FROM "Sweep" s
  WHERE t.id = $1::uuid AND s.id = t."sweepId" AND t.status::text = 'queued' AND ${CLAIMABLE_SWEEP}
  RETURNING ${CLAIM_RETURNING}
), s AS (
  UPDATE "Sweep" SET status = 'running', "updatedAt" = now()
  WHERE id = (SELECT "sweepId"::uuid FROM t) AND status = 'queued'
)
SELECT ${CLAIM_SELECT} FROM t`;

export const claimed = (r: ClaimRow): ClaimedTrial => ({
  id: r.id,
  sweepId: r.sweepId,
  attempt: Number(r.attempts),
  config: r.config,
  trainer: r.trainer,
  maxAttempts: Number(r.maxAttempts),
  checkpointPath: r.checkpointPath,
  key: r.key,
  branchFrom: r.branchFrom,
  branchStep: r.branchStep === null ? null : Number(r.branchStep),
  branchCheckpoint: r.branchCheckpoint,
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
export const claimCtes = (p: { ids: string; workerId: string; paths: string; lease: string }) => `c AS MATERIALIZED (
  SELECT * FROM unnest(${p.ids}::uuid[], ${p.paths}::text[]) AS c(id, "checkpointPath")
), ct AS (
  UPDATE "Trial" t SET status = 'running', "workerId" = ${p.workerId}, attempts = t.attempts + 1,
    "leaseUntil" = now() + make_interval(secs => ${p.lease}::float8),
    "startedAt" = now(), "updatedAt" = now(), "checkpointPath" = COALESCE(t."checkpointPath", c."checkpointPath")
  FROM c, "Sweep" s
  WHERE t.id = ANY(${p.ids}::uuid[]) AND t.id = c.id AND s.id = t."sweepId" AND t.status::text = 'queued'
    AND ${CLAIMABLE_SWEEP}
  RETURNING ${CLAIM_RETURNING}
), cs AS (
  UPDATE "Sweep" SET status = 'running', "updatedAt" = now()
  WHERE id IN (SELECT DISTINCT "sweepId"::uuid FROM ct) AND status = 'queued'
)`;

const MARK_RUNNING_MANY_SQL = `
WITH ${claimCtes({ ids: "$1", workerId: "$2", paths: "$3", lease: "$4" })}
SELECT ${CLAIM_SELECT} FROM ct`;

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
 * come back later), `skip` otherwise (finished, running elsewhere, cancelled, gone, or a branch
 * waiting for its trunk checkpoint, which gets a new job when the checkpoint is saved).
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
