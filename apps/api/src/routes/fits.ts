// Fits: the stored fit of a sweep (tables, law, B_opt, power-sweep optimum), predictions for a
// target run, and ad-hoc fits of posted rows. The fitter service stores fits; these routes read them.
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { fitTablesCsv, type PowerLaw, powerSchedulerConfig, predictLr, type SweepFit } from "@powersweep/fit";
import { ThreadPool, ThreadPoolBusyError, ThreadTimeoutError } from "@powersweep/runtime";
import {
  FitQuerySchema,
  FitsBodySchema,
  IdParamsSchema,
  PredictionSchema,
  PredictQuerySchema,
  StoredFitSchema,
  type SweepFit as SweepFitContract,
  SweepFitSchema,
} from "@powersweep/spec/api";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { byMediaType, responses } from "../contract.ts";
import type { FitJobResult } from "../fits/job.ts";
import { problem } from "../problem.ts";
import { documentedOnly } from "../validator.ts";

// packages/fit's SweepFit and the contract's SweepFitSchema must agree: a fit result is assignable
// to the schema's type, and both name the same fields. A field added to one and not the other
// fails typecheck here (and the API tests, which serialise strictly).
type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never] ? true : false;
const fitMatchesContract: SweepFitContract = {} as SweepFit;
const fitKeys: [
  SameKeys<SweepFit, SweepFitContract>,
  SameKeys<SweepFit["etaOpt"][number], SweepFitContract["etaOpt"][number]>,
  SameKeys<SweepFit["gamma"][number], SweepFitContract["gamma"][number]>,
  SameKeys<PowerLaw, NonNullable<SweepFitContract["law"]["pooled"]>>,
] = [true, true, true, true];
void fitMatchesContract;
void fitKeys;

/** Threads that run ad-hoc fits, and how many fits may wait for one. */
const FIT_THREADS = 2;
const FIT_MAX_QUEUED = 16;

/** A stored fit as the routes read it. */
interface LatestFit {
  id: string;
  inputHash: string;
  inputs: unknown;
  result: unknown;
  /** ISO 8601, UTC. */
  createdAt: string;
}

/**
 * The sweep (whether it exists) and its newest fit in one prepared statement on the read pool:
 * `/fit` is polled (dashboard, CLI watch) and a Prisma query cost several times the CPU of the
 * round trip (its query compiler runs per call) and took two round trips.
 */
const LATEST_FIT_SQL = `SELECT f.id::text AS id, f."inputHash", f.result,
  -- only what the answer shows: fits stored before 2026-12 also list every trial id in inputs
  jsonb_build_object('rowCount', f.inputs->'rowCount', 'options', f.inputs->'options') AS inputs,
  to_char(f."createdAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "createdAt"
FROM "Sweep" s LEFT JOIN LATERAL (
  SELECT id, "inputHash", inputs, result, "createdAt" FROM "Fit" WHERE "sweepId" = s.id ORDER BY "createdAt" DESC LIMIT 1
) f ON true WHERE s.id = $1::uuid`;

async function readLatestFit(app: FastifyInstance, sweepId: string): Promise<LatestFit | null | undefined> {
  const { reads, db } = app.deps;
  const rows = reads
    ? ((await reads.query({ text: LATEST_FIT_SQL, values: [sweepId], name: "ps_latest_fit" })).rows as Array<
        LatestFit | { id: null }
      >)
    : await db.$queryRawUnsafe<Array<LatestFit | { id: null }>>(LATEST_FIT_SQL, sweepId);
  const row = rows[0];
  if (!row) return undefined;
  return row.id === null ? null : (row as LatestFit);
}

/** The sweep's newest fit; `field` names where the sweep id came from (for the 404's errors). */
async function latestFit(app: FastifyInstance, sweepId: string, field: string): Promise<LatestFit> {
  const errors = (message: string) => ({ errors: [{ path: field, message }] });
  const fit = await readLatestFit(app, sweepId);
  if (fit === undefined) throw problem(404, "not-found", "Not found", `no sweep ${sweepId}`, errors("no such sweep"));
  if (!fit)
    throw problem(
      404,
      "no-fit-yet",
      "No fit yet",
      `sweep ${sweepId} has no fit yet: the fitter stores one as trials finish`,
      errors("the sweep has no fit yet"),
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
      { errors: [{ path: model ? "/querystring/model" : "/querystring/sweep", message: "no fitted law" }] },
    );
  }
  return law;
}

export const fitRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    "/sweeps/:id/fit",
    {
      schema: {
        summary:
          "The sweep's latest fit: η_opt per (model, T, β) with CI and edge flags, γ per T, γ = a·T^b with CI and R², B_opt(T), power-sweep optimum",
        tags: ["fits"],
        params: IdParamsSchema,
        querystring: FitQuerySchema,
        response: responses({
          200: byMediaType({ "application/json": StoredFitSchema, "text/csv": Type.String() }),
        }),
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const { format, table } = req.query;
      const fit = await latestFit(app, id, "/params/id");
      const result = fit.result as unknown as SweepFit;
      if (format === "csv") {
        const csv = fitTablesCsv(result);
        reply.type("text/csv; charset=utf-8");
        return table ? csv[table] : `# eta_opt\n${csv.etaOpt}\n# gamma\n${csv.gamma}`;
      }
      // The input by hash and count (fits stored before 2026-12 also listed every trial id: not answered).
      const inputs = (fit.inputs ?? {}) as { rowCount?: number; options?: unknown };
      return {
        id: fit.id,
        sweepId: id,
        createdAt: fit.createdAt,
        inputs: {
          rowCount: inputs.rowCount ?? result.counts.rows,
          options: inputs.options ?? result.options,
          hash: fit.inputHash,
        },
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
        querystring: PredictQuerySchema,
        response: responses({ 200: PredictionSchema }),
      },
    },
    async (req) => {
      const q = req.query;
      let law: Pick<PowerLaw, "a" | "b"> & { cov?: PowerLaw["cov"] };
      let source: { sweep: string; fitId: string; model: string } | { a: number; b: number };
      if (q.sweep) {
        const fit = await latestFit(app, q.sweep, "/querystring/sweep");
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
      if (!(law.b < 0 && law.b >= -2)) {
        throw problem(422, "no-schedule", "No Power schedule", `the law's b = ${law.b} is not in [-2, 0)`, {
          errors: [{ path: q.sweep ? "/querystring/sweep" : "/querystring/b", message: "b must be in [-2, 0)" }],
        });
      }
      const etaMax = q.etaMax ?? 0.02;
      const prediction = predictLr({ tokens: q.tokens, batchSize: q.batchSize, law, etaMax });
      const schedule = powerSchedulerConfig(law, {
        batchSize: q.batchSize,
        etaMax,
        tokens: q.tokens,
        ...(q.warmupTokens !== undefined ? { warmupTokens: q.warmupTokens } : {}),
        decayFraction: q.decayFraction ?? 0.1,
      });
      return {
        tokens: q.tokens,
        batchSize: q.batchSize,
        law: { a: law.a, b: law.b },
        source,
        ...prediction,
        schedule,
      };
    },
  );

  // Parsing, validation and the fit all run in worker threads: the event loop stays free.
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
        response: responses({ 200: SweepFitSchema }),
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
