// Shared trunks and decay branches in Postgres (docs/branches.md). A branch trial names the trial it
// branches from (`branchFrom`, that trial's key in the same sweep) and the step of the checkpoint it
// starts from (`branchStep`). Postgres is the record of which checkpoint serves which trial:
//   - the host's worker saves the checkpoint, then markBranchReady names it in `branchCheckpoint`
//     and only then is the branch claimable and given a job (BRANCH_READY);
//   - a host that ended without it (diverged before the step, failed, cancelled, or finished before
//     the branch existed) leaves the branch to train from scratch: releaseOrphanBranches clears its
//     `branchFrom`, from the host's worker at once and from the sweeper as a safety net;
//   - a branch whose checkpoint file is gone when it runs trains from scratch (the trainer falls
//     back), so a lost checkpoint costs its prefix again, never the result.
import type { EnqueueTrial } from "@powersweep/queue";
import { queryRows, type SqlClient } from "./sql.ts";

/** SQL condition (Trial alias `t`): the trial is not waiting for a trunk checkpoint. */
export const BRANCH_READY = `(t."branchFrom" IS NULL OR t."branchCheckpoint" IS NOT NULL)`;

/** A branch the host trial should save a checkpoint for while it trains. */
export interface PendingBranch {
  id: string;
  config: unknown;
  branchStep: number;
}

/** The queued branches of a host trial that still wait for their checkpoint. */
export async function pendingBranches(db: SqlClient, sweepId: string, hostKey: string): Promise<PendingBranch[]> {
  return queryRows<PendingBranch>(
    db,
    `SELECT t.id::text AS id, t.config, t."branchStep" AS "branchStep" FROM "Trial" t
     WHERE t."sweepId" = $1::uuid AND t."branchFrom" = $2 AND t."branchCheckpoint" IS NULL AND t.status = 'queued'
     ORDER BY t."branchStep", t.id`,
    [sweepId, hostKey],
    "ps_pending_branches",
  );
}

/**
 * Names the saved checkpoint of a branch, which makes it claimable. Returns the job to enqueue, or
 * null when the branch no longer waits (already named, released to scratch, cancelled).
 */
export async function markBranchReady(db: SqlClient, trialId: string, dir: string): Promise<EnqueueTrial | null> {
  const rows = await queryRows<EnqueueTrial>(
    db,
    `UPDATE "Trial" t SET "branchCheckpoint" = $2, "updatedAt" = now() FROM "Sweep" s
     WHERE t.id = $1::uuid AND s.id = t."sweepId" AND t."branchFrom" IS NOT NULL AND t."branchCheckpoint" IS NULL
       AND t.status = 'queued'
     RETURNING t.id::text AS id, t."sweepId"::text AS "sweepId", s.priority`,
    [trialId, dir],
    "ps_branch_ready",
  );
  return rows[0] ?? null;
}

/**
 * Branches whose host can no longer give them a checkpoint (it is neither queued nor running, or
 * it is gone) train from scratch: their `branchFrom` and `branchStep` are cleared. Not in a
 * cancelled sweep: its queued trials are being cancelled, and a resume runs its hosts again. Scope: one host
 * (its worker, right after its result), some sweeps, or all (the sweeper). Returns their jobs.
 */
export async function releaseOrphanBranches(
  db: SqlClient,
  scope: { sweepId: string; hostKey: string } | { sweepIds?: string[] } = {},
): Promise<EnqueueTrial[]> {
  const params: unknown[] = [];
  let where = "";
  if ("hostKey" in scope) {
    params.push(scope.sweepId, scope.hostKey);
    where = `AND b."sweepId" = $1::uuid AND b."branchFrom" = $2`;
  } else if (scope.sweepIds) {
    params.push(scope.sweepIds);
    where = `AND b."sweepId" = ANY($1::uuid[])`;
  }
  return queryRows<EnqueueTrial>(
    db,
    `UPDATE "Trial" b SET "branchFrom" = NULL, "branchStep" = NULL, "updatedAt" = now() FROM "Sweep" s
     WHERE s.id = b."sweepId" AND s.status IN ('queued', 'running') AND b.status = 'queued'
       AND b."branchFrom" IS NOT NULL AND b."branchCheckpoint" IS NULL ${where}
       AND NOT EXISTS (SELECT 1 FROM "Trial" h WHERE h."sweepId" = b."sweepId" AND h.key = b."branchFrom"
                       AND h.status IN ('queued', 'running'))
     RETURNING b.id::text AS id, b."sweepId"::text AS "sweepId", s.priority`,
    params,
  );
}

/**
 * SQL (Trial alias `t`): the tokens a trial trains itself, all of T from scratch, T less its
 * branch's shared steps when it branches (as packages/sweep trainingTokensOf counts them).
 */
export const TRIAL_TRAINING_TOKENS = `CASE WHEN t."branchStep" IS NULL THEN t.tokens
  ELSE t.tokens - t."branchStep"::float8 * t."batchSize" * (t.config->>'seqLen')::float8 END`;

/**
 * Of newly inserted trials (`ids`, for `trials`), those that can run now: a branch waiting for its
 * trunk checkpoint gets its job when the checkpoint is saved. `aligned`: ids[i] is trials[i]'s id
 * (COPY makes the ids); otherwise (an INSERT that skipped duplicates) Postgres says which ids are branches.
 */
export async function runnableIds(
  db: SqlClient,
  trials: Array<{ branchFrom?: string | null }>,
  ids: string[],
  aligned: boolean,
): Promise<string[]> {
  if (!trials.some((t) => t.branchFrom)) return ids;
  if (aligned) return ids.filter((_, i) => !trials[i]?.branchFrom);
  const rows = await queryRows<{ id: string }>(
    db,
    `SELECT id::text AS id FROM "Trial" WHERE id = ANY($1::uuid[]) AND "branchFrom" IS NULL`,
    [ids],
  );
  return rows.map((r) => r.id);
}
