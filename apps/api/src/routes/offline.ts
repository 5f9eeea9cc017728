// /v1 offline batches (docs/offline.md): a sweep's queued trials are claimed for an export batch
// and carried to a cluster without network; their results come back through an import.
//   POST /sweeps/:id/export   claim queued trials for a batch → the trials with their attempts
//   POST /offline/import      record results (idempotent per trial and attempt)
//   POST /offline/release     the batch's unfinished trials back to the queue

import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import {
  claimTrialsForExport,
  EXPORT_BATCH_PATTERN,
  importOfflineResults,
  NotFoundError,
  releaseExport,
  removeJobs,
} from "@powersweep/orchestrator";
import { enqueueTrials, requestFit } from "@powersweep/queue";
import { ExportResultSchema, IdParamsSchema, ImportReportSchema, ReleaseResultSchema } from "@powersweep/spec/api";
import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { requireSweepAccess } from "../auth.ts";
import { responses } from "../contract.ts";
import { problem } from "../problem.ts";
import { documentedOnly } from "../validator.ts";

const Batch = Type.String({ pattern: EXPORT_BATCH_PATTERN.source, description: "export batch id" });
// TypeBox's Value knows no string formats: ids are checked with a pattern (Ajv's uuid format, loosely)
const Uuid = Type.String({ pattern: "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$" });
const Num = Type.Union([Type.Number(), Type.Null()]);

export const ExportRequest = Type.Object({
  batch: Batch,
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, description: "at most this many trials" })),
});

const Metric = Type.Object({
  step: Type.Number(),
  tokens: Type.Number(),
  lr: Num,
  trainLoss: Num,
  evalLoss: Type.Optional(Num),
});

export const ImportRequest = Type.Object({
  results: Type.Array(
    Type.Object({
      trialId: Uuid,
      attempt: Type.Integer({ minimum: 1 }),
      result: Type.Optional(
        Type.Object({
          status: Type.Union([Type.Literal("succeeded"), Type.Literal("diverged"), Type.Literal("aborted")]),
          trainLoss: Type.Optional(Num),
          testLoss: Type.Optional(Num),
          testPerplexity: Type.Optional(Num),
          tokensSeen: Type.Optional(Num),
          wallSeconds: Type.Optional(Num),
          tokensPerSecond: Type.Optional(Num),
          reason: Type.Optional(Type.Union([Type.String(), Type.Null()])),
        }),
      ),
      error: Type.Optional(Type.Object({ class: Type.String(), message: Type.String() })),
      metrics: Type.Optional(Type.Array(Metric)),
    }),
    { maxItems: 10_000 },
  ),
});

export const ReleaseRequest = Type.Object({
  batch: Batch,
  trialIds: Type.Optional(Type.Array(Uuid)),
});

/** JSON bodies arrive as text (server.ts): parsed and checked here, errors name the field. */
function parseBody<T extends TSchema>(schema: T, body: unknown): Static<T> {
  let value: unknown = body;
  if (typeof body === "string") {
    try {
      value = JSON.parse(body);
    } catch (e) {
      throw problem(400, "invalid-request", "Invalid request body", `body is not JSON: ${(e as Error).message}`);
    }
  }
  const first = Value.Errors(schema, value).First();
  if (first)
    throw problem(400, "invalid-request", "Invalid request body", `${first.path || "/"}: ${first.message}`, {
      errors: [{ path: first.path || "/", message: first.message }],
    });
  return value as Static<T>;
}

export const offlineRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    "/sweeps/:id/export",
    {
      schema: {
        summary: "Claim queued trials of a sweep for an offline export batch (workers will not run them)",
        tags: ["offline"],
        params: IdParamsSchema,
        body: documentedOnly(ExportRequest),
        response: responses({ 200: ExportResultSchema }),
      },
    },
    async (req) => {
      const { id } = req.params;
      await requireSweepAccess(req, id, "act");
      const body = parseBody(ExportRequest, req.body);
      const exists = await app.deps.db.sweep.findUnique({ where: { id }, select: { id: true } });
      if (!exists) throw new NotFoundError(`no sweep ${id}`);
      const trials = await claimTrialsForExport(app.deps.db, id, body.batch, { limit: body.limit ?? 100_000 });
      return { sweepId: id, batch: body.batch, trials };
    },
  );

  app.post(
    "/offline/import",
    {
      schema: {
        summary: "Record the results of an offline batch (each trial and attempt at most once)",
        tags: ["offline"],
        body: documentedOnly(ImportRequest),
        response: responses({ 200: ImportReportSchema }),
      },
    },
    async (req) => {
      const body = parseBody(ImportRequest, req.body);
      const report = await importOfflineResults(
        app.deps.db,
        body.results.map((r) => ({
          ...r,
          metrics: (r.metrics ?? []).map((m) => ({
            step: m.step,
            tokens: m.tokens,
            lr: m.lr ?? Number.NaN,
            trainLoss: m.trainLoss ?? Number.NaN,
            evalLoss: m.evalLoss ?? null,
          })),
        })),
      );
      if (app.deps.fitQueue) for (const id of report.sweepIds) await requestFit(app.deps.fitQueue, id).catch(() => {});
      return report;
    },
  );

  app.post(
    "/offline/release",
    {
      schema: {
        summary: "Put an export batch's unfinished trials back in the queue",
        tags: ["offline"],
        body: documentedOnly(ReleaseRequest),
        response: responses({ 200: ReleaseResultSchema }),
      },
    },
    async (req) => {
      const body = parseBody(ReleaseRequest, req.body);
      const released = await releaseExport(app.deps.db, body.batch, body.trialIds ? { trialIds: body.trialIds } : {});
      // The trials' old jobs may be finished (a worker that was handed one found it held and
      // skipped it): removed first, so the new jobs with the same ids are really added.
      await removeJobs(
        app.deps.trialQueue,
        released.map((t) => t.trialId),
      );
      await enqueueTrials(
        app.deps.trialQueue,
        released.map((t) => ({ id: t.trialId, sweepId: t.sweepId, maxAttempts: t.maxAttempts, priority: t.priority })),
      );
      return { batch: body.batch, released: released.map((t) => t.trialId) };
    },
  );
};
