// Fits: the stored fit of a sweep (tables, law, B_opt, power-sweep optimum), predictions for a
// target run, and ad-hoc fits of posted rows. The fitter service stores fits; these routes read them.
import {
  type FitRow,
  fitSweep,
  fitTablesCsv,
  type PowerLaw,
  powerSchedulerConfig,
  predictLr,
  type SweepFit,
} from "@powersweep/fit";
import { latestFit as latestStoredFit } from "@powersweep/orchestrator";
import { Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { FastifyPluginAsync } from "fastify";
import { problem } from "../problem.ts";
import { documentedOnly } from "../validator.ts";

const Id = Type.Object({ id: Type.String({ format: "uuid" }) });
const positive = Type.Number({ exclusiveMinimum: 0 });

const FitRowSchema = Type.Object(
  {
    model: Type.String({ minLength: 1, maxLength: 64 }),
    tokens: positive,
    batchSize: Type.Integer({ minimum: 1 }),
    lr: Type.Optional(Type.Union([positive, Type.Null()])),
    powerA: Type.Optional(Type.Union([positive, Type.Null()])),
    powerB: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
    seed: Type.Optional(Type.Integer({ minimum: 0 })),
    testLoss: Type.Union([Type.Number(), Type.Null()]),
    status: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

const FitOptionsSchema = Type.Object(
  {
    bandSteps: Type.Optional(Type.Integer({ minimum: 1, maximum: 10 })),
    topK: Type.Optional(Type.Integer({ minimum: 1, maximum: 20 })),
    includeEdge: Type.Optional(Type.Boolean()),
    seed: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);

const FitsBodySchema = Type.Object(
  { rows: Type.Array(FitRowSchema, { minItems: 1, maxItems: 1_000_000 }), options: Type.Optional(FitOptionsSchema) },
  { additionalProperties: false },
);

async function latestFit(app: Parameters<FastifyPluginAsync>[0], sweepId: string) {
  const fit = await latestStoredFit(app.deps.db, sweepId);
  if (!fit)
    throw problem(
      404,
      "no-fit-yet",
      "No fit yet",
      `sweep ${sweepId} has no fit yet: the fitter stores one as trials finish`,
    );
  return fit;
}

function lawOrThrow(fit: SweepFit, model?: string): PowerLaw {
  const law = model ? fit.law.perModel[model] : fit.law.pooled;
  if (!law) {
    throw problem(
      422,
      "no-law",
      "No fitted law",
      model
        ? `the fit has no law for model "${model}"`
        : "the fit has no pooled law yet (it needs γ at 2 or more token budgets)",
    );
  }
  return law;
}

export const fitRoutes: FastifyPluginAsync = async (app) => {
  app.get(
    "/sweeps/:id/fit",
    {
      schema: {
        summary:
          "The sweep's latest fit: η_opt per (model, T, β) with CI and edge flags, γ per T, γ = a·T^b with CI and R², B_opt(T), power-sweep optimum",
        tags: ["fits"],
        params: Id,
        querystring: Type.Object({
          format: Type.Optional(Type.Union([Type.Literal("json"), Type.Literal("csv")])),
          table: Type.Optional(Type.Union([Type.Literal("etaOpt"), Type.Literal("gamma")])),
        }),
      },
    },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      const { format, table } = req.query as { format?: "json" | "csv"; table?: "etaOpt" | "gamma" };
      const fit = await latestFit(app, id);
      const result = fit.result as unknown as SweepFit;
      if (format === "csv") {
        const csv = fitTablesCsv(result);
        reply.type("text/csv; charset=utf-8");
        if (table) return csv[table];
        return `# eta_opt\n${csv.etaOpt}\n# gamma\n${csv.gamma}`;
      }
      return { id: fit.id, sweepId: id, createdAt: fit.createdAt, inputs: fit.inputs, ...result };
    },
  );

  app.get(
    "/predict",
    {
      schema: {
        summary: "Predicted η = β·a·T^b (eq. 6) with a 95% interval, and a ready Power-scheduler config (eq. 8)",
        tags: ["fits"],
        querystring: Type.Object({
          tokens: positive,
          batchSize: Type.Integer({ minimum: 1 }),
          sweep: Type.Optional(Type.String({ format: "uuid" })),
          model: Type.Optional(Type.String()),
          a: Type.Optional(positive),
          b: Type.Optional(Type.Number({ exclusiveMaximum: 0 })),
          etaMax: Type.Optional(positive),
          warmupTokens: Type.Optional(Type.Number({ minimum: 0 })),
          decayFraction: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
        }),
      },
    },
    async (req) => {
      const q = req.query as {
        tokens: number;
        batchSize: number;
        sweep?: string;
        model?: string;
        a?: number;
        b?: number;
        etaMax?: number;
        warmupTokens?: number;
        decayFraction?: number;
      };
      let law: PowerLaw | Pick<PowerLaw, "a" | "b">;
      let source: Record<string, unknown>;
      if (q.sweep) {
        const fit = await latestFit(app, q.sweep);
        law = lawOrThrow(fit.result as unknown as SweepFit, q.model);
        source = { sweep: q.sweep, fitId: fit.id, model: q.model ?? "pooled" };
      } else if (q.a !== undefined && q.b !== undefined) {
        law = { a: q.a, b: q.b };
        source = { a: q.a, b: q.b };
      } else {
        throw problem(400, "invalid-query", "Invalid query", "give either sweep=<id> or both a= and b=", {
          errors: [{ path: "/querystring/sweep", message: "sweep, or a and b, is required" }],
        });
      }
      const prediction = predictLr({ tokens: q.tokens, batchSize: q.batchSize, law: law as PowerLaw });
      const schedule = powerSchedulerConfig(law as PowerLaw, {
        batchSize: q.batchSize,
        etaMax: q.etaMax ?? 0.02,
        warmupTokens: q.warmupTokens ?? 0,
        decayFraction: q.decayFraction ?? 0.1,
      });
      return { tokens: q.tokens, batchSize: q.batchSize, law: { a: law.a, b: law.b }, source, ...prediction, schedule };
    },
  );

  app.post(
    "/fits",
    {
      config: { scope: "read" },
      schema: {
        summary: "Fit posted result rows without storing a sweep",
        tags: ["fits"],
        body: documentedOnly(FitsBodySchema),
      },
    },
    async (req) => {
      let body: unknown;
      try {
        body = typeof req.body === "string" ? JSON.parse(req.body) : req.body;
      } catch (err) {
        throw problem(400, "invalid-json", "Invalid JSON", (err as Error).message);
      }
      const errors = [...Value.Errors(FitsBodySchema, body)]
        .slice(0, 20)
        .map((e) => ({ path: `/body${e.path}`, message: e.message }));
      if (errors.length)
        throw problem(400, "invalid-rows", "Invalid rows", `${errors[0]!.path}: ${errors[0]!.message}`, { errors });
      const { rows, options } = body as { rows: FitRow[]; options?: Record<string, unknown> };
      return fitSweep(rows, options ?? {});
    },
  );
};

export default fitRoutes;
