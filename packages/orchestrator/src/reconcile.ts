// The sweeper: Postgres is the record, Redis only the transport. Each pass
//   1. takes back the trials whose lease expired (their worker died, or lost Postgres for longer
//      than the lease): queued again for their next attempt after the retry backoff, or failed
//      (errorClass "crash") when they used their attempts (Optuna's fail_stale_trials);
//   2. gives every queued trial of an accepted sweep a live job (a branch once its trunk checkpoint
//      exists, or from scratch once its host ended without it: branches.ts) (lost keys, a crash between
//      commit and enqueue, a job that finished while its trial was queued again);
//   3. finishes cancels (queued trials of a cancelled sweep become cancelled) and removes sweeps
//      whose accept died half-way (still `creating`, heartbeat stopped): no worker ever claimed
//      their trials;
//   4. settles sweep statuses (running once a trial started, completed when nothing is left; a
//      searched sweep is completed by its search step, search.ts);
//   5. runs the search step of a searched sweep the fitter left idle (no fitter, lost fit request).
// Safe to run at any time and from several processes: every step is a conditional statement and
// enqueueing is idempotent (the job id is the trial id).
import type { Db } from "@powersweep/db";
import type { SweepFit } from "@powersweep/fit";
import type { EnqueueTrial, TrialQueue } from "@powersweep/queue";
import { BRANCH_READY, releaseOrphanBranches } from "./branches.ts";
import { ensureJobs } from "./jobs.ts";
import { NOT_SEARCHED_SQL } from "./results.ts";
import { retryDelayMs, SQL_ATTEMPT_LIMIT } from "./retry.ts";
import { runSearchStep } from "./search.ts";

export interface ReconcileResult {
  /** Queued trials examined. */
  checked: number;
  /** Jobs that were missing (or finished) and were added again. */
  requeued: number;
  /** Branches whose host ended without their trunk checkpoint: released to train from scratch. */
  releasedBranches: number;
  /** Running trials whose lease expired: queued for another attempt, or failed after the last. */
  leaseRetried: number;
  leaseFailed: number;
  /** Queued trials of cancelled sweeps marked cancelled. */
  cancelled: number;
  /** Sweeps marked running (some trial started) and completed (nothing left queued or running). */
  started: number;
  completed: number;
  /** Sweeps whose accept died (still `creating`, no heartbeat for abandonedAfterMs), removed. */
  abandoned: number;
  /** Searched sweeps left idle for searchIdleMs whose search step ran here (search.ts). */
  searchSteps: number;
}

/** Queued trials fetched per page. */
const PAGE = 10_000;

export interface ReconcileOptions {
  /** Only these sweeps (default: all). Tests sharing one database use it to stay hermetic. */
  sweepIds?: string[];
  /**
   * A `creating` sweep whose heartbeat (updatedAt, every CREATING_HEARTBEAT_MS while its accept
   * runs) is older than this was left by an accept that died: it is deleted (default 120 s).
   */
  abandonedAfterMs?: number;
  /**
   * A searched sweep (`axes.lr.search`) with nothing queued or running, no trial finished and no
   * update for this long, is one whose search step the fitter did not run: the sweeper runs it
   * (default 60 s; the fitter's step follows each result within seconds).
   */
  searchIdleMs?: number;
}

/** See ReconcileOptions.searchIdleMs. */
export const SEARCH_IDLE_MS = 60_000;

/** See ReconcileOptions.abandonedAfterMs. */
export const ABANDONED_AFTER_MS = 120_000;

export async function reconcile(
  db: Db,
  queue: TrialQueue,
  { sweepIds, abandonedAfterMs = ABANDONED_AFTER_MS, searchIdleMs = SEARCH_IDLE_MS }: ReconcileOptions = {},
): Promise<ReconcileResult> {
  const scope = (n: number) => (sweepIds ? `AND s.id = ANY($${n}::uuid[])` : "");
  const scopeArgs = sweepIds ? [sweepIds] : [];

  // 1. Expired leases. A running trial without a lease (claimed before leases existed) counts as
  // leased until 10 minutes after its last update.
  const expired = await db.$queryRawUnsafe<Array<EnqueueTrial & { status: string; attempts: number }>>(
    `UPDATE "Trial" t SET "workerId" = NULL, "leaseUntil" = NULL, "updatedAt" = now(),
       status = CASE WHEN t.attempts >= ${SQL_ATTEMPT_LIMIT(`s."maxAttempts"`)} THEN 'failed' ELSE 'queued' END::"TrialStatus",
       "finishedAt" = CASE WHEN t.attempts >= ${SQL_ATTEMPT_LIMIT(`s."maxAttempts"`)} THEN now() END,
       error = 'worker lost: its lease expired during attempt ' || t.attempts, "errorClass" = 'crash'
     FROM "Sweep" s
     WHERE s.id = t."sweepId" AND t.status = 'running'
       AND COALESCE(t."leaseUntil", t."updatedAt" + interval '10 minutes') < now() ${scope(1)}
     RETURNING t.id::text AS id, t."sweepId"::text AS "sweepId", s.priority, t.status::text AS status, t.attempts`,
    ...scopeArgs,
  );
  const retried = expired.filter((t) => t.status === "queued");
  await ensureJobs(
    queue,
    retried.map((t) => ({ id: t.id, sweepId: t.sweepId, priority: t.priority, delayMs: retryDelayMs(t.attempts) })),
  );

  // 2. Queued trials of accepted sweeps without a live job, by keyset pagination over ids. A branch
  // waiting for its trunk checkpoint gets its job when the checkpoint is saved (branches.ts), or
  // here once its host ended without it (released to train from scratch).
  const releasedBranches = await releaseOrphanBranches(db, sweepIds ? { sweepIds } : {});
  await ensureJobs(queue, releasedBranches);
  let checked = 0;
  let requeued = 0;
  let after = "00000000-0000-0000-0000-000000000000";
  for (;;) {
    const rows = await db.$queryRawUnsafe<EnqueueTrial[]>(
      `SELECT t.id::text AS id, t."sweepId"::text AS "sweepId", s.priority
       FROM "Trial" t JOIN "Sweep" s ON s.id = t."sweepId"
       WHERE t.status = 'queued' AND s.status NOT IN ('cancelled', 'creating') AND ${BRANCH_READY}
         AND t.id > $1::uuid ${scope(2)}
       ORDER BY t.id LIMIT ${PAGE}`,
      after,
      ...scopeArgs,
    );
    if (!rows.length) break;
    checked += rows.length;
    after = rows[rows.length - 1]?.id ?? after;
    requeued += await ensureJobs(queue, rows);
    if (rows.length < PAGE) break;
  }

  // 3. Cancels left half-done (the API answers before it marks the queued trials), and accepts that died.
  const cancelled = await db.$executeRawUnsafe(
    `UPDATE "Trial" t SET status = 'cancelled', "finishedAt" = now(), "updatedAt" = now()
     FROM "Sweep" s WHERE s.id = t."sweepId" AND s.status = 'cancelled' AND t.status = 'queued' ${scope(1)}`,
    ...scopeArgs,
  );
  const abandoned = await db.$executeRawUnsafe(
    `DELETE FROM "Sweep" s WHERE s.status = 'creating' AND s."updatedAt" < now() - make_interval(secs => $1::float8)
       ${scope(2)}`,
    abandonedAfterMs / 1000,
    ...scopeArgs,
  );

  // 4. Sweep statuses.
  const started = await db.$executeRawUnsafe(
    `UPDATE "Sweep" s SET status = 'running', "updatedAt" = now()
     WHERE s.status = 'queued' AND EXISTS (SELECT 1 FROM "Trial" t WHERE t."sweepId" = s.id AND t.status <> 'queued')
       ${scope(1)}`,
    ...scopeArgs,
  );
  const completed = await db.$executeRawUnsafe(
    `UPDATE "Sweep" s SET status = 'completed', "finishedAt" = now(), "updatedAt" = now()
     WHERE s.status IN ('queued', 'running') AND ${NOT_SEARCHED_SQL}
       AND NOT EXISTS (SELECT 1 FROM "Trial" t WHERE t."sweepId" = s.id AND t.status IN ('queued', 'running'))
       ${scope(1)}`,
    ...scopeArgs,
  );
  // 5. Searched sweeps the fitter left idle (its step after the last refit never ran: no fitter,
  // or its fit request was lost): their search step runs here, with the latest stored fit.
  const idle = await db.$queryRawUnsafe<Array<{ id: string }>>(
    `SELECT s.id::text AS id FROM "Sweep" s
     WHERE s.status IN ('queued', 'running') AND NOT ${NOT_SEARCHED_SQL}
       AND NOT EXISTS (SELECT 1 FROM "Trial" t WHERE t."sweepId" = s.id
         AND (t.status IN ('queued', 'running') OR t."finishedAt" > now() - make_interval(secs => $1)))
       AND s."updatedAt" < now() - make_interval(secs => $1)
       ${scope(2)}`,
    searchIdleMs / 1000,
    ...scopeArgs,
  );
  let searchSteps = 0;
  for (const { id } of idle) {
    const fit = await db.fit.findFirst({
      where: { sweepId: id },
      orderBy: { createdAt: "desc" },
      select: { result: true },
    });
    if (await runSearchStep({ db, trialQueue: queue }, id, (fit?.result as unknown as SweepFit | undefined) ?? null))
      searchSteps++;
  }
  return {
    checked,
    requeued: requeued,
    releasedBranches: releasedBranches.length,
    leaseRetried: retried.length,
    leaseFailed: expired.length - retried.length,
    cancelled,
    started,
    completed,
    abandoned,
    searchSteps,
  };
}

/** Runs the sweeper now and then every `intervalMs`; errors go to `onError`. Returns a stop function. */
export function startReconciler(
  db: Db,
  queue: TrialQueue,
  {
    intervalMs = 30_000,
    onError = (_: unknown) => {},
    onResult = (_: ReconcileResult) => {},
    ...options
  }: ReconcileOptions & {
    intervalMs?: number;
    onError?: (e: unknown) => void;
    onResult?: (r: ReconcileResult) => void;
  } = {},
): { stop: () => Promise<void>; first: Promise<void> } {
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const tick = () => {
    running = reconcile(db, queue, options).then(onResult, onError);
    return running;
  };
  const first = tick();
  const timer = setInterval(() => {
    if (!stopped) void running.then(tick);
  }, intervalMs);
  timer.unref();
  return {
    first,
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
