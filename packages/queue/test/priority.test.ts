// Sweep priorities as documents write them: 1 runs first, larger numbers later, no priority last
// (BullMQ alone runs jobs without a priority before every prioritised one).
import { Worker } from "bullmq";
import { afterAll, expect, test } from "vitest";
import { testConfig, uniquePrefix } from "../../../test/env.ts";
import { createRedis, createTrialQueue, enqueueTrials, QUEUE_TRIALS } from "../src/index.ts";

const config = testConfig();
const prefix = uniquePrefix("priority");
const redis = createRedis({ url: config.redisUrl });
const queue = createTrialQueue(redis, prefix);
afterAll(async () => {
  await queue.obliterate({ force: true });
  await queue.close();
  redis.disconnect();
});

test("trial jobs are taken in the documented priority order: 1 first, then 2, then none", async () => {
  await enqueueTrials(queue, [
    { id: "none-a", sweepId: "s0" },
    { id: "two", sweepId: "s2", priority: 2 },
    { id: "one", sweepId: "s1", priority: 1 },
    { id: "none-b", sweepId: "s0", priority: 0 },
  ]);
  const connection = createRedis({ url: config.redisUrl, forWorker: true });
  const worker = new Worker(QUEUE_TRIALS, null, { connection, prefix, autorun: false });
  try {
    const order: string[] = [];
    for (let i = 0; i < 4; i++) {
      const job = await worker.getNextJob("test-token", { block: false });
      if (!job?.id) break;
      order.push(job.id);
      await job.moveToCompleted("done", "test-token", false);
    }
    // within one priority, first in first out
    expect(order).toEqual(["one", "two", "none-a", "none-b"]);
    // a completed job is removed at once (its result is in Postgres)
    expect(await queue.getJob("one")).toBeUndefined();
  } finally {
    await worker.close();
    connection.disconnect();
  }
});
