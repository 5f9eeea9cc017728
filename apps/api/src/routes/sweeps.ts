// /v1/sweeps: submit (JSON, YAML or CSV import), list, read, cancel, retry, extend.

import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import {
  cancelSweep,
  createSweep,
  extendSweepTrials,
  getSweep,
  listSweeps,
  listTrials,
  resumeSweep,
  retrySweep,
} from "@powersweep/orchestrator";
import { requestFit } from "@powersweep/queue";
import { ExtendDocumentSchema, parseExtendDocument, parseSweepDocument, SweepDocumentSchema } from "@powersweep/spec";
import {
  CancelResultSchema,
  CreatedSweepSchema,
  DryRunQuerySchema,
  ExtendResultSchema,
  IdParamsSchema,
  ResumeResultSchema,
  RetryResultSchema,
  SubmitQuerySchema,
  SweepDetailSchema,
  SweepListQuerySchema,
  SweepListSchema,
  TrialListQuerySchema,
  TrialListSchema,
} from "@powersweep/spec/api";
import { admitDocument } from "../admission.ts";
import { requireSweepAccess } from "../auth.ts";
import { responses } from "../contract.ts";
import { sweepDeps } from "../deps.ts";
import { checkExtendLimits, checkSweepLimits } from "../limits.ts";
import { invalidDocument } from "../problem.ts";
import { documentedOnly } from "../validator.ts";
import { wire } from "../wire.ts";

const DOC_TYPES = ["application/json", "application/yaml", "text/yaml", "text/csv"];

// The body is validated by parseSweepDocument (the same code the CLI runs offline, with YAML line
// numbers); the schema declared here documents it in OpenAPI (see validator.ts).
const SweepBody = documentedOnly(SweepDocumentSchema);
const ExtendBody = documentedOnly(ExtendDocumentSchema);

export const sweepRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const deps = () => sweepDeps(app.deps);

  app.post(
    "/sweeps",
    {
      schema: {
        summary: "Submit a sweep (lr-grid, power-grid or import); ?dryRun=true only expands it",
        tags: ["sweeps"],
        consumes: DOC_TYPES,
        querystring: SubmitQuerySchema,
        body: SweepBody,
        response: responses({ 200: CreatedSweepSchema, 201: CreatedSweepSchema }),
      },
    },
    async (req, reply) => {
      const q = req.query;
      const parsed = parseSweepDocument(
        String(req.body ?? ""),
        req.headers["content-type"] ?? "",
        q.name ? { name: q.name } : {},
      );
      if (!parsed.ok) throw invalidDocument(parsed.errors);
      await admitDocument(parsed.value, app.deps.config);
      await checkSweepLimits(app, parsed.value);
      const dryRun = q.dryRun === true;
      // A retried submit with the same Idempotency-Key answers the sweep the first one created (200).
      const idempotencyKey = req.headers["idempotency-key"];
      const { replayed, ...created } = await createSweep(deps(), parsed.value, {
        dryRun,
        ...(req.token ? { owner: req.token.name } : {}),
        ...(typeof idempotencyKey === "string" && idempotencyKey ? { idempotencyKey } : {}),
      });
      // Imported results are finished trials: fit them now (workers request fits for trained ones).
      if (!dryRun && !replayed && created.id && parsed.value.kind === "import" && app.deps.fitQueue) {
        await requestFit(app.deps.fitQueue, created.id, 0);
      }
      if (!dryRun && !replayed) {
        app.metrics.sweepsSubmitted.inc({ kind: parsed.value.kind });
        app.metrics.trialsSubmitted.inc(created.trialCount);
      }
      return reply.code(dryRun || replayed ? 200 : 201).send(wire(CreatedSweepSchema, created));
    },
  );

  app.get(
    "/sweeps",
    {
      schema: {
        summary: "List sweeps, newest first",
        tags: ["sweeps"],
        querystring: SweepListQuerySchema,
        response: responses({ 200: SweepListSchema }),
      },
    },
    async (req) => wire(SweepListSchema, await listSweeps(app.deps.db, req.query)),
  );

  app.get(
    "/sweeps/:id",
    {
      schema: {
        summary: "A sweep: document, status and trial counts per status",
        tags: ["sweeps"],
        params: IdParamsSchema,
        response: responses({ 200: SweepDetailSchema }),
      },
    },
    async (req) => wire(SweepDetailSchema, await getSweep(app.deps.reads ?? app.deps.db, req.params.id)),
  );

  app.get(
    "/sweeps/:id/trials",
    {
      schema: {
        summary: "Trials of a sweep, filtered by status and axis values",
        tags: ["trials"],
        params: IdParamsSchema,
        querystring: TrialListQuerySchema,
        response: responses({ 200: TrialListSchema }),
      },
    },
    async (req) => wire(TrialListSchema, await listTrials(app.deps.db, req.params.id, req.query)),
  );

  app.post(
    "/sweeps/:id/cancel",
    {
      schema: {
        summary: "Cancel: queued and running trials cancelled (running ones stop at their next heartbeat)",
        tags: ["sweeps"],
        params: IdParamsSchema,
        response: responses({ 200: CancelResultSchema }),
      },
    },
    async (req) => {
      await requireSweepAccess(req, req.params.id, "act");
      const cancelled = await cancelSweep(deps(), req.params.id);
      app.metrics.trialsCancelled.inc(cancelled.cancelled);
      return wire(CancelResultSchema, cancelled);
    },
  );

  app.post(
    "/sweeps/:id/resume",
    {
      schema: {
        summary: "Resume a cancelled sweep: its cancelled and failed trials are queued again",
        tags: ["sweeps"],
        params: IdParamsSchema,
        response: responses({ 200: ResumeResultSchema }),
      },
    },
    async (req) => {
      await requireSweepAccess(req, req.params.id, "act");
      const resumed = await resumeSweep(deps(), req.params.id);
      app.metrics.trialsRequeued.inc({ action: "resume" }, resumed.resumed);
      return resumed;
    },
  );

  app.post(
    "/sweeps/:id/retry",
    {
      schema: {
        summary: "Queue again the trials that crashed",
        tags: ["sweeps"],
        params: IdParamsSchema,
        response: responses({ 200: RetryResultSchema }),
      },
    },
    async (req) => {
      await requireSweepAccess(req, req.params.id, "act");
      const retried = await retrySweep(deps(), req.params.id);
      app.metrics.trialsRequeued.inc({ action: "retry" }, retried.retried);
      return retried;
    },
  );

  app.post(
    "/sweeps/:id/extend",
    {
      schema: {
        summary: "Add axis values; only new trials are created",
        tags: ["sweeps"],
        consumes: DOC_TYPES.filter((t) => t !== "text/csv"),
        params: IdParamsSchema,
        querystring: DryRunQuerySchema,
        body: ExtendBody,
        response: responses({ 200: ExtendResultSchema }),
      },
    },
    async (req) => {
      await requireSweepAccess(req, (req.params as { id: string }).id, "act");
      const parsed = parseExtendDocument(String(req.body ?? ""), req.headers["content-type"] ?? "");
      if (!parsed.ok) throw invalidDocument(parsed.errors);
      checkExtendLimits(app, parsed.value);
      const extended = await extendSweepTrials(deps(), req.params.id, parsed.value, {
        dryRun: req.query.dryRun === true,
      });
      if (!extended.dryRun) app.metrics.trialsSubmitted.inc(extended.added);
      return wire(ExtendResultSchema, extended);
    },
  );
};
