// The reconciler: Postgres is the record, Redis only the transport. It re-enqueues queued trials
// whose job is missing from Redis (lost keys, a crash between commit and enqueue), removes sweeps
// whose accept died half-way (still `creating`, heartbeat stopped) with their jobs, and settles
// sweep statuses. Safe to run at any time and from several processes: enqueueing is idempotent
// (the job id is the trial id).
import type { Db } from "@powersweep/db";
import { enqueueTrials, type TrialQueue } from "@powersweep/queue";
import type { Redis } from "ioredis";
import { removeJobs } from "./sweeps.ts";

export interface ReconcileResult {
  /** Queued trials examined. */
  checked: number;
  /** Jobs that were missing and were added again. */
  requeued: number;
  /** Sweeps marked running (some trial started) and completed (nothing left queued or running). */
  started: number;
  completed: number;
  /** Sweeps whose accept died (still `creating`, no heartbeat for abandonedAfterMs), removed with their jobs. */
  abandoned: number;
}

/** Queued trials fetched per page, and EXISTS commands per Redis pipeline. */
const PAGE = 10_000;

export interface ReconcileOptions {
  /** Only these sweeps (default: all). Tests sharing one database use it to stay hermetic. */
  sweepIds?: string[];
  /**
   * A `creating` sweep whose heartbeat (updatedAt, every CREATING_HEARTBEAT_MS while its accept
   * runs) is older than this was left by an accept that died: it is deleted and its jobs removed
   * (default 120 s).
   */
  abandonedAfterMs?: number;
}

/** See ReconcileOptions.abandonedAfterMs. */
export const ABANDONED_AFTER_MS = 120_000;

export async function reconcile(
  db: Db,
  queue: TrialQueue,
  { sweepIds, abandonedAfterMs = ABANDONED_AFTER_MS }: ReconcileOptions = {},
): Promise<ReconcileResult> {
  const scope = sweepIds ? `AND s.id = ANY($2::uuid[])` : "";
  const scopeArgs = sweepIds ? [sweepIds] : [];
  // The raw ioredis client behind the (Redis-backed) queue.
  const client = (await (queue.getBackend() as unknown as { client: Promise<unknown> }).client) as Redis;
  // Accepts that died: the sweep was never accepted, so it goes, rows first, then its jobs (a job
  // left behind finds no trial and completes without training). The staleness is checked again in
  // the DELETE, so an accept that is alive (its heartbeat just moved) keeps its sweep.
  const stale = `s.status = 'creating' AND s."updatedAt" < now() - make_interval(secs => $1::float8)`;
  const abandonedSweeps = await db.$queryRawUnsafe<Array<{ id: string }>>(
    `SELECT s.id::text AS id FROM "Sweep" s WHERE ${stale} ${scope}`,
    abandonedAfterMs / 1000,
    ...scopeArgs,
  );
  let abandoned = 0;
  for (const { id } of abandonedSweeps) {
    const trials = await db.$queryRawUnsafe<Array<{ id: string }>>(
      `SELECT id::text AS id FROM "Trial" WHERE "sweepId" = $1::uuid`,
      id,
    );
    const n = await db.$executeRawUnsafe(
      `DELETE FROM "Sweep" s WHERE s.id = $2::uuid AND ${stale}`,
      abandonedAfterMs / 1000,
      id,
    );
    if (n !== 1) continue;
    abandoned++;
    await removeJobs(
      queue,
      trials.map((t) => t.id),
    );
  }
  let checked = 0;
  let requeued = 0;
  let after = "00000000-0000-0000-0000-000000000000";
  for (;;) {
    // Keyset pagination over queued trials of live sweeps, by id.
    const rows = await db.$queryRawUnsafe<
      Array<{ id: string; sweepId: string; priority: number; maxAttempts: number }>
    >(
      `SELECT t.id::text AS id, t."sweepId"::text AS "sweepId", s.priority, s."maxAttempts"
       FROM "Trial" t JOIN "Sweep" s ON s.id = t."sweepId"
       WHERE t.status = 'queued' AND s.status NOT IN ('cancelled', 'creating') AND t.id > $1::uuid ${scope}
       ORDER BY t.id LIMIT ${PAGE}`,
      after,
      ...scopeArgs,
    );
    if (!rows.length) break;
    checked += rows.length;
    after = rows[rows.length - 1]?.id ?? after;
    // One pipeline of EXISTS on the job hashes: a queued trial whose job hash is gone is lost.
    const pipeline = client.pipeline();
    for (const r of rows) pipeline.exists(queue.toKey(r.id));
    const exists = (await pipeline.exec()) ?? [];
    const missing = rows.filter((_, i) => exists[i]?.[1] !== 1);
    if (missing.length) {
      await enqueueTrials(
        queue,
        missing.map((r) => ({ id: r.id, sweepId: r.sweepId, priority: r.priority, maxAttempts: r.maxAttempts })),
      );
      requeued += missing.length;
    }
    if (rows.length < PAGE) break;
  }
  const started = await db.$executeRawUnsafe(
    `UPDATE "Sweep" s SET status = 'running', "updatedAt" = now()
     WHERE s.status = 'queued' AND EXISTS (SELECT 1 FROM "Trial" t WHERE t."sweepId" = s.id AND t.status <> 'queued')
       ${scope.replace("$2", "$1")}`,
    ...scopeArgs,
  );
  const completed = await db.$executeRawUnsafe(
    `UPDATE "Sweep" s SET status = 'completed', "finishedAt" = now(), "updatedAt" = now()
     WHERE s.status IN ('queued', 'running')
       AND NOT EXISTS (SELECT 1 FROM "Trial" t WHERE t."sweepId" = s.id AND t.status IN ('queued', 'running'))
       ${scope.replace("$2", "$1")}`,
    ...scopeArgs,
  );
  return { checked, requeued, started, completed, abandoned };
}

/** Runs the reconciler now and then every `intervalMs`; errors go to `onError`. Returns a stop function. */
export function startReconciler(
  db: Db,
  queue: TrialQueue,
  { intervalMs = 30_000, onError = (_: unknown) => {}, onResult = (_: ReconcileResult) => {} } = {},
): { stop: () => Promise<void>; first: Promise<void> } {
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const tick = () => {
    running = reconcile(db, queue).then(onResult, onError);
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
