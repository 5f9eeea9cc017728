// /v1/workers: the fleet view. A worker silent for more than WORKER_LOST_AFTER_SECONDS is "lost".
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { listWorkers } from "@powersweep/orchestrator";
import { WorkerListQuerySchema, WorkerListSchema } from "@powersweep/spec/api";
import { responses } from "../contract.ts";

export const workerRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    "/workers",
    {
      schema: {
        summary: "Worker fleet: state, current trial, tokens/s; silent workers show as lost",
        tags: ["workers"],
        querystring: WorkerListQuerySchema,
        response: responses({ 200: WorkerListSchema }),
      },
    },
    async (req) => {
      const workers = await listWorkers(app.deps.db, {
        lostAfterSeconds: app.deps.config.workerLostAfterSeconds,
        includeStopped: req.query.includeStopped ?? true,
      });
      return { workers };
    },
  );
};
