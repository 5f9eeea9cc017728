// The API process: buildServer (for tests and embedding) and startApi (connect, reconcile, listen).
import { createDb } from "@powersweep/db";
import { startReconciler } from "@powersweep/orchestrator";
import { createFitQueue, createRedis, createTrialQueue } from "@powersweep/queue";
import type { PowersweepConfig } from "@powersweep/runtime";
import type { FastifyInstance, FastifyServerOptions } from "fastify";
import { buildServer } from "./server.ts";

export type { ApiDeps } from "./deps.ts";
export { errorHandler, ProblemError, problem } from "./problem.ts";
export { buildServer } from "./server.ts";

export async function startApi(
  config: PowersweepConfig,
  { logger = { level: config.logLevel }, auth }: { logger?: FastifyServerOptions["logger"]; auth?: boolean } = {},
): Promise<{ app: FastifyInstance; close: () => Promise<void> }> {
  const db = createDb({ url: config.databaseUrl });
  const redis = createRedis({ url: config.redisUrl });
  const trialQueue = createTrialQueue(redis, config.redisPrefix);
  const fitQueue = createFitQueue(redis, config.redisPrefix);
  const app = buildServer({ db, redis, trialQueue, fitQueue, config, logger, ...(auth !== undefined ? { auth } : {}) });
  const reconciler = startReconciler(db, trialQueue, {
    intervalMs: config.sweeperIntervalMs,
    onError: (err) => app.log.error({ err }, "reconcile failed"),
    onResult: (r) => {
      if (r.requeued || r.leaseRetried || r.leaseFailed || r.cancelled || r.completed || r.started || r.abandoned)
        app.log.info(r, "reconciled");
    },
  });
  await reconciler.first;
  await app.listen({ host: config.host, port: config.port });
  return {
    app,
    close: async () => {
      await reconciler.stop();
      await app.close();
      await trialQueue.close();
      await fitQueue.close();
      redis.disconnect();
      await db.$disconnect();
    },
  };
}
