// /v1/trials/:id: one trial with its config, result and loss curve.
import { getTrial } from "@powersweep/orchestrator";
import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsync } from "fastify";

export const trialRoutes: FastifyPluginAsync = async (app) => {
  app.get(
    "/trials/:id",
    {
      schema: {
        summary: "A trial: config, status, result and loss curve (TrialMetric)",
        tags: ["trials"],
        params: Type.Object({ id: Type.String({ format: "uuid" }) }),
      },
    },
    async (req) => getTrial(app.deps.db, (req.params as { id: string }).id),
  );
};
