// Jobs are transport: every queued trial of an accepted sweep should have a live job (waiting,
// delayed, prioritised or active) whose id is the trial id. ensureJobs makes it so for given trials,
// whatever Redis lost or still holds from an earlier attempt.
import { type EnqueueTrial, enqueueTrials, type TrialQueue } from "@powersweep/queue";
import type { Redis } from "ioredis";

/** Jobs per Redis pipeline. */
const PIPELINE = 10_000;

/** The raw ioredis client behind the (Redis-backed) queue. */
async function redisOf(queue: TrialQueue): Promise<Redis> {
  return (await (queue.getBackend() as unknown as { client: Promise<unknown> }).client) as Redis;
}

/**
 * Gives each trial a live job: a job whose hash is gone is added again, and one that already
 * finished (an earlier attempt's, kept as failed, or a completion that raced a requeue) is removed
 * and added again. A live job is left as it is. Returns how many jobs were added.
 */
export async function ensureJobs(queue: TrialQueue, trials: EnqueueTrial[]): Promise<number> {
  if (!trials.length) return 0;
  const client = await redisOf(queue);
  let added = 0;
  for (let i = 0; i < trials.length; i += PIPELINE) {
    const page = trials.slice(i, i + PIPELINE);
    const pipeline = client.pipeline();
    for (const t of page) pipeline.hmget(queue.toKey(t.id), "timestamp", "finishedOn");
    const replies = (await pipeline.exec()) ?? [];
    const missing: EnqueueTrial[] = [];
    for (const [j, t] of page.entries()) {
      const [timestamp, finishedOn] = (replies[j]?.[1] as Array<string | null> | undefined) ?? [null, null];
      if (timestamp !== null && finishedOn === null) continue;
      if (finishedOn !== null) await queue.remove(t.id).catch(() => 0);
      missing.push(t);
    }
    await enqueueTrials(queue, missing);
    added += missing.length;
  }
  return added;
}

/** Removes the jobs of these trial ids (a job that is active or already gone is left). */
export async function removeJobs(queue: TrialQueue, ids: string[]): Promise<number> {
  let removed = 0;
  for (let i = 0; i < ids.length; i += 500) {
    const results = await Promise.all(ids.slice(i, i + 500).map((id) => queue.remove(id).catch(() => 0)));
    removed += results.filter((r) => r === 1).length;
    await new Promise((r) => setImmediate(r));
  }
  return removed;
}
