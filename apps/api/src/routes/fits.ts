// Fits: the stored fit of a sweep (tables, law, B_opt, power-sweep optimum), predictions for a
// target run, and ad-hoc fits of posted rows. The fitter service stores fits; these routes read them.
import { fitTablesCsv, type PowerLaw, powerSchedulerConfig, predictLr, type SweepFit } from "@powersweep/fit";
import { ThreadPool, ThreadPoolBusyError, ThreadTimeoutError } from "@powersweep/runtime";
import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsync } from "fastify";
import { type FitJobResult, FitsBodySchema } from "../fits/job.ts";
import { problem } from "../problem.ts";
import { documentedOnly } from "../validator.ts";

const Id = Type.Object({ id: Type.String({ format: "uuid" }) });
const positive = Type.Number({ exclusiveMinimum: 0 });

/** Threads that run ad-hoc fits, and how many fits may wait for one. */
const FIT_THREADS = 2;
const FIT_MAX_QUEUED = 16;

async function latestFit(app: Parameters<FastifyPluginAsync>[0], sweepId: string) {
  const sweep = await app.deps.db.sweep.findUnique({ where: { id: sweepId }, select: { id: true } });
  if (!sweep) throw problem(404, "not-found", "Not found", `no sweep ${sweepId}`);
  const fit = await app.deps.db.fit.findFirst({ where: { sweepId }, orderBy: { createdAt: "desc" } });
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
      // the input by hash and count (fits stored before 2026-12 listed every trial id: not answered)
      const { trialIds: _ids, ...inputs } = (fit.inputs ?? {}) as Record<string, unknown>;
      return {
        id: fit.id,
        sweepId: id,
        createdAt: fit.createdAt,
        inputs: { ...inputs, hash: fit.inputHash },
        ...result,
      };
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

  // parsing, validation and the fit all run in worker threads: the event loop stays free
  const pool = new ThreadPool<{ text: string; maxRows: number }, FitJobResult>({
    entry: new URL("../fits/thread.ts", import.meta.url),
    threads: FIT_THREADS,
    maxQueued: FIT_MAX_QUEUED,
    timeoutMs: app.deps.config.fitTimeoutSeconds * 1000,
  });
  app.addHook("onClose", () => pool.close());

  app.post(
    "/fits",
    {
      config: { scope: "submit" },
      schema: {
        summary: `Fit posted result rows without storing a sweep (submit scope; at most FIT_MAX_ROWS rows, ${app.deps.config.fitMaxRows} here, and FIT_TIMEOUT_SECONDS)`,
        tags: ["fits"],
        body: documentedOnly(FitsBodySchema),
      },
    },
    async (req, reply) => {
      const text = typeof req.body === "string" ? req.body : JSON.stringify(req.body ?? null);
      const done = await pool.run({ text, maxRows: app.deps.config.fitMaxRows }).catch((err: Error) => {
        if (err instanceof ThreadTimeoutError)
          throw problem(
            422,
            "fit-timeout",
            "Fit too slow",
            `the fit ${err.message} (FIT_TIMEOUT_SECONDS); post fewer rows`,
            {
              errors: [{ path: "/body/rows", message: "too many rows to fit in time" }],
            },
          );
        if (err instanceof ThreadPoolBusyError) {
          reply.header("retry-after", "5");
          throw problem(503, "fits-busy", "Busy", `${err.message}; try again shortly`);
        }
        throw err;
      });
      if (!done.ok) {
        const { status, slug, title, detail, errors } = done;
        throw problem(status, slug, title, detail, errors ? { errors } : {});
      }
      return done.fit;
    },
  );
};

export default fitRoutes;
