// /v1/sweeps: submit (JSON, YAML or CSV import), list, read, cancel, retry, extend.
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
import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsync } from "fastify";
import { sweepDeps } from "../deps.ts";
import { invalidDocument } from "../problem.ts";
import { documentedOnly } from "../validator.ts";

export const SweepIdParams = Type.Object({ id: Type.String({ format: "uuid" }) });
const DryRunQuery = Type.Object({
  dryRun: Type.Optional(Type.Boolean({ description: "Expand and count without creating anything." })),
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: "Name of a CSV import." })),
});
const TrialStatus = Type.Union(
  ["queued", "running", "succeeded", "failed", "diverged", "cancelled"].map((s) => Type.Literal(s)),
);
const SweepStatus = Type.Union(["creating", "queued", "running", "completed", "cancelled"].map((s) => Type.Literal(s)));
const pageQuery = {
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 50 }),
  offset: Type.Integer({ minimum: 0, default: 0 }),
};
const DOC_TYPES = ["application/json", "application/yaml", "text/yaml", "text/csv"];

// The body is validated by parseSweepDocument (the same code the CLI runs offline, with YAML line
// numbers); the schema declared here documents it in OpenAPI (see validator.ts).
const SweepBody = documentedOnly(SweepDocumentSchema);
const ExtendBody = documentedOnly(ExtendDocumentSchema);

export const sweepRoutes: FastifyPluginAsync = async (app) => {
  const deps = () => sweepDeps(app.deps);

  app.post(
    "/sweeps",
    {
      schema: {
        summary: "Submit a sweep (lr-grid, power-grid or import); ?dryRun=true only expands it",
        tags: ["sweeps"],
        consumes: DOC_TYPES,
        querystring: DryRunQuery,
        body: SweepBody,
      },
    },
    async (req, reply) => {
      const q = req.query as { dryRun?: boolean | string; name?: string };
      const parsed = parseSweepDocument(
        String(req.body ?? ""),
        req.headers["content-type"] ?? "",
        q.name ? { name: q.name } : {},
      );
      if (!parsed.ok) throw invalidDocument(parsed.errors);
      const dryRun = q.dryRun === true || q.dryRun === "true";
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
      return reply.code(dryRun || replayed ? 200 : 201).send(created);
    },
  );

  app.get(
    "/sweeps",
    {
      schema: {
        summary: "List sweeps, newest first",
        tags: ["sweeps"],
        querystring: Type.Object({
          status: Type.Optional(SweepStatus),
          tag: Type.Optional(Type.String()),
          ...pageQuery,
        }),
      },
    },
    async (req) => {
      const q = req.query as { status?: string; tag?: string; limit: number; offset: number };
      return listSweeps(app.deps.db, q);
    },
  );

  app.get(
    "/sweeps/:id",
    {
      schema: {
        summary: "A sweep: document, status and trial counts per status",
        tags: ["sweeps"],
        params: SweepIdParams,
      },
    },
    async (req) => getSweep(app.deps.reads ?? app.deps.db, (req.params as { id: string }).id),
  );

  app.get(
    "/sweeps/:id/trials",
    {
      schema: {
        summary: "Trials of a sweep, filtered by status and axis values",
        tags: ["trials"],
        params: SweepIdParams,
        querystring: Type.Object({
          status: Type.Optional(TrialStatus),
          model: Type.Optional(Type.String()),
          tokens: Type.Optional(Type.Number()),
          batchSize: Type.Optional(Type.Integer()),
          lr: Type.Optional(Type.Number()),
          seed: Type.Optional(Type.Integer()),
          limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
          offset: Type.Integer({ minimum: 0, default: 0 }),
        }),
      },
    },
    async (req) => listTrials(app.deps.db, (req.params as { id: string }).id, req.query as object),
  );

  app.post(
    "/sweeps/:id/cancel",
    {
      schema: {
        summary: "Cancel: queued and running trials cancelled (running ones stop at their next heartbeat)",
        tags: ["sweeps"],
        params: SweepIdParams,
      },
    },
    async (req) => cancelSweep(deps(), (req.params as { id: string }).id),
  );

  app.post(
    "/sweeps/:id/resume",
    {
      schema: {
        summary: "Resume a cancelled sweep: its cancelled and failed trials are queued again",
        tags: ["sweeps"],
        params: SweepIdParams,
      },
    },
    async (req) => resumeSweep(deps(), (req.params as { id: string }).id),
  );

  app.post(
    "/sweeps/:id/retry",
    { schema: { summary: "Queue again the trials that crashed", tags: ["sweeps"], params: SweepIdParams } },
    async (req) => retrySweep(deps(), (req.params as { id: string }).id),
  );

  app.post(
    "/sweeps/:id/extend",
    {
      schema: {
        summary: "Add axis values; only new trials are created",
        tags: ["sweeps"],
        consumes: DOC_TYPES.filter((t) => t !== "text/csv"),
        params: SweepIdParams,
        querystring: Type.Object({ dryRun: Type.Optional(Type.Boolean()) }),
        body: ExtendBody,
      },
    },
    async (req) => {
      const parsed = parseExtendDocument(String(req.body ?? ""), req.headers["content-type"] ?? "");
      if (!parsed.ok) throw invalidDocument(parsed.errors);
      const q = req.query as { dryRun?: boolean | string };
      return extendSweepTrials(deps(), (req.params as { id: string }).id, parsed.value, {
        dryRun: q.dryRun === true || q.dryRun === "true",
      });
    },
  );
};
