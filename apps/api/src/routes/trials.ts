// /v1/trials/:id: one trial with its config, result and loss curve.
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { getTrial } from "@powersweep/orchestrator";
import { IdParamsSchema, TrialDetailSchema } from "@powersweep/spec/api";
import { responses } from "../contract.ts";
import { wire } from "../wire.ts";

export const trialRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    "/trials/:id",
    {
      schema: {
        summary: "A trial: config, status, result and loss curve (TrialMetric)",
        tags: ["trials"],
        params: IdParamsSchema,
        response: responses({ 200: TrialDetailSchema }),
      },
    },
    async (req) => wire(TrialDetailSchema, await getTrial(app.deps.db, req.params.id)),
  );
};
