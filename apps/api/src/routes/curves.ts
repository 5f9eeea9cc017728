// /v1/sweeps/:id/curves/predict: the loss-curve model (packages/fit lossCurve) fitted to a sweep's
// stored curves per (model, β, η) group, and its predictions for a schedule and T nobody trained:
// the final loss (with a 95% interval) and curve per group, η_opt per (model, β) from the predicted
// losses, and the decay the law predicts best. Every number here is a prediction (`predicted: true`).
import {
  adviseSchedule,
  CURVE_LAWS,
  type CurveLawName,
  type CurvePoint,
  fitLossCurve,
  type LossCurveFit,
  type ObservedCurve,
  predictEtaOpt,
  predictLossCurve,
} from "@powersweep/fit";
import { createSchedule } from "@powersweep/schedules";
import type { DecayShape, ScheduleSpec, TrialConfig } from "@powersweep/spec";
import { DecayShapeSchema } from "@powersweep/spec";
import { Interval } from "@powersweep/spec/api";
import { type Static, Type } from "@sinclair/typebox";
import type { FastifyInstance, FastifyPluginAsync } from "fastify";
import { problem } from "../problem.ts";

/** One trial's stored curve, as the fit reads it. */
export interface StoredCurve {
  trialId: string;
  model: string;
  batchSize: number;
  lr: number;
  seed: number;
  config: TrialConfig;
  testLoss: number | null;
  points: Array<{ step: number; trainLoss: number; evalLoss: number | null }>;
  updatedAt: Date;
}

/**
 * The curves of a sweep's succeeded lr-grid trials. The one place that knows where curves are
 * stored (today TrialMetric rows); switching to another store means changing this function only.
 */
export async function readSweepCurves(app: FastifyInstance, sweepId: string): Promise<StoredCurve[]> {
  const trials = await app.deps.db.trial.findMany({
    where: { sweepId, status: "succeeded", lr: { not: null } },
    select: {
      id: true,
      model: true,
      batchSize: true,
      lr: true,
      seed: true,
      config: true,
      testLoss: true,
      updatedAt: true,
    },
  });
  if (trials.length === 0) return [];
  const metrics = await app.deps.db.trialMetric.findMany({
    where: { trialId: { in: trials.map((t) => t.id) } },
    orderBy: [{ trialId: "asc" }, { step: "asc" }],
    select: { trialId: true, step: true, trainLoss: true, evalLoss: true },
  });
  const byTrial = new Map<string, StoredCurve["points"]>();
  for (const m of metrics) {
    const list = byTrial.get(m.trialId) ?? [];
    list.push({ step: m.step, trainLoss: m.trainLoss, evalLoss: m.evalLoss });
    byTrial.set(m.trialId, list);
  }
  return trials.map((t) => ({
    trialId: t.id,
    model: t.model,
    batchSize: t.batchSize,
    lr: t.lr as number,
    seed: t.seed,
    config: t.config as unknown as TrialConfig,
    testLoss: t.testLoss,
    points: byTrial.get(t.id) ?? [],
    updatedAt: t.updatedAt,
  }));
}

/** A stored curve as an observed curve: every train loss, every eval loss, and the final test loss. */
export function observedCurve(c: StoredCurve): ObservedCurve {
  const { config } = c;
  const steps = Math.ceil(config.tokens / (config.batchSize * config.seqLen));
  const points: CurvePoint[] = [];
  for (const p of c.points) {
    if (Number.isFinite(p.trainLoss)) points.push({ step: p.step, loss: p.trainLoss, split: "train" });
    if (p.evalLoss !== null) points.push({ step: p.step, loss: p.evalLoss, split: "test" });
  }
  if (c.testLoss !== null && !c.points.some((p) => p.evalLoss !== null && p.step >= steps))
    points.push({ step: steps, loss: c.testLoss, split: "test" });
  return {
    schedule: config.schedule,
    tokens: config.tokens,
    batchSize: config.batchSize,
    seqLen: config.seqLen,
    points,
  };
}

interface GroupFit {
  model: string;
  batchSize: number;
  lr: number;
  seqLen: number;
  warmupTokens: number;
  runs: number;
  fit: LossCurveFit | null;
  error: string | null;
}

/** Fits per (model, β, η); memoised per sweep state (trial count and last update) and law. */
const fitCache = new Map<string, GroupFit[]>();
const FIT_CACHE_SIZE = 16;

function fitGroups(curves: StoredCurve[], law: CurveLawName): GroupFit[] {
  const groups = new Map<string, StoredCurve[]>();
  for (const c of curves) {
    const key = JSON.stringify([c.model, c.batchSize, c.lr]);
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  return [...groups.values()]
    .map((members) => {
      const first = members[0] as StoredCurve;
      const base = {
        model: first.model,
        batchSize: first.batchSize,
        lr: first.lr,
        seqLen: first.config.seqLen,
        warmupTokens: first.config.schedule.warmupTokens,
        runs: members.length,
      };
      try {
        return { ...base, fit: fitLossCurve(members.map(observedCurve), { law }), error: null };
      } catch (err) {
        return { ...base, fit: null, error: (err as Error).message };
      }
    })
    .sort((a, b) => a.model.localeCompare(b.model) || a.batchSize - b.batchSize || a.lr - b.lr);
}

const NullableInterval = Type.Union([Interval, Type.Null()]);

const QuerySchema = Type.Object({
  tokens: Type.Number({ exclusiveMinimum: 0, description: "T of the predicted runs, in tokens." }),
  schedule: Type.Optional(
    Type.Union([Type.Literal("wsd"), Type.Literal("cosine"), Type.Literal("constant")], {
      description: "Schedule of the predicted runs (default wsd); each group keeps its own peak lr.",
    }),
  ),
  decayFraction: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: "wsd: default 0.1." })),
  decayShape: Type.Optional(DecayShapeSchema),
  warmupTokens: Type.Optional(Type.Number({ minimum: 0, description: "Default: the sweep's trials' warmup." })),
  law: Type.Optional(
    Type.Union(
      CURVE_LAWS.map((l) => Type.Literal(l)),
      { description: "Default multi-power." },
    ),
  ),
  model: Type.Optional(Type.String({ minLength: 1 })),
  batchSize: Type.Optional(Type.Integer({ minimum: 1 })),
  points: Type.Optional(
    Type.Integer({ minimum: 2, maximum: 1000, description: "Points per predicted curve (default 50)." }),
  ),
});
type Query = Static<typeof QuerySchema>;

const PredictedPointSchema = Type.Object({
  step: Type.Integer(),
  tokens: Type.Number(),
  lr: Type.Number(),
  loss: Type.Number(),
  lower: Type.Union([Type.Number(), Type.Null()]),
  upper: Type.Union([Type.Number(), Type.Null()]),
});

const GroupSchema = Type.Object({
  model: Type.String(),
  batchSize: Type.Integer(),
  lr: Type.Number(),
  runs: Type.Integer({ description: "Succeeded trials whose curves the fit used." }),
  error: Type.Union([Type.String(), Type.Null()], { description: "Why this group has no fit." }),
  fit: Type.Union([
    Type.Object({
      law: Type.String(),
      params: Type.Record(Type.String(), Type.Number()),
      ci95: Type.Union([Type.Record(Type.String(), Interval), Type.Null()]),
      testOffset: Type.Union([Type.Number(), Type.Null()]),
      residualScale: Type.Number(),
      nPoints: Type.Integer(),
      nCurves: Type.Integer(),
    }),
    Type.Null(),
  ]),
  schedule: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  final: Type.Union([
    Type.Object({
      predicted: Type.Literal(true),
      trainLoss: Type.Number(),
      testLoss: Type.Union([Type.Number(), Type.Null()]),
      ci95: NullableInterval,
    }),
    Type.Null(),
  ]),
  curve: Type.Array(PredictedPointSchema),
});

const ResponseSchema = Type.Object({
  sweepId: Type.String(),
  tokens: Type.Number(),
  law: Type.String(),
  predicted: Type.Literal(true, { description: "Every loss here is the law's prediction, not a measurement." }),
  groups: Type.Array(GroupSchema),
  etaOpt: Type.Array(
    Type.Object({
      model: Type.String(),
      batchSize: Type.Integer(),
      predicted: Type.Literal(true),
      etaOpt: Type.Number(),
      ci95: NullableInterval,
      lossAtOpt: Type.Number(),
      extend: Type.Union([Type.String(), Type.Null()]),
      lrs: Type.Integer(),
    }),
  ),
  advice: Type.Array(
    Type.Object({
      model: Type.String(),
      batchSize: Type.Integer(),
      lr: Type.Number({ description: "The group with the lowest predicted loss." }),
      predicted: Type.Literal(true),
      best: Type.Object({ schedule: Type.Record(Type.String(), Type.Unknown()), loss: Type.Number() }),
      baseline: Type.Object({ schedule: Type.Record(Type.String(), Type.Unknown()), loss: Type.Number() }),
      gain: Type.Number({ description: "baseline − best predicted final train loss, nats." }),
    }),
  ),
});

function scheduleFor(q: Query, lr: number, warmupTokens: number): ScheduleSpec {
  const warmup = q.warmupTokens ?? warmupTokens;
  switch (q.schedule ?? "wsd") {
    case "cosine":
      return { type: "cosine", lr, warmupTokens: warmup, minLrRatio: 0 };
    case "constant":
      return { type: "constant", lr, warmupTokens: warmup };
    default:
      return {
        type: "wsd",
        lr,
        warmupTokens: warmup,
        decayFraction: q.decayFraction ?? 0.1,
        decayShape: (q.decayShape ?? "exponential") as DecayShape,
      };
  }
}

export const curveRoutes: FastifyPluginAsync = async (app) => {
  app.get(
    "/sweeps/:id/curves/predict",
    {
      schema: {
        summary:
          "Loss-curve model (Tissue et al. 2408.11029 or the multi-power law 2503.12811) fitted per (model, β, η) on the sweep's curves: predicted final loss and curve of a schedule at T, η_opt from the predictions, and the best WSD decay",
        tags: ["curves"],
        params: Type.Object({ id: Type.String({ format: "uuid" }) }),
        querystring: QuerySchema,
        response: { 200: ResponseSchema },
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const q = req.query as Query;
      const law = (q.law ?? "multi-power") as CurveLawName;
      const sweep = await app.deps.db.sweep.findUnique({ where: { id }, select: { id: true } });
      if (!sweep) throw problem(404, "not-found", "Not found", `no sweep ${id}`);
      const curves = (await readSweepCurves(app, id)).filter(
        (c) =>
          (q.model === undefined || c.model === q.model) && (q.batchSize === undefined || c.batchSize === q.batchSize),
      );
      if (curves.length === 0)
        throw problem(
          422,
          "no-curves",
          "No curves",
          `sweep ${id} has no succeeded lr-grid trials${q.model || q.batchSize ? " matching model/batchSize" : ""}`,
        );
      const stamp = Math.max(...curves.map((c) => c.updatedAt.getTime()));
      const cacheKey = JSON.stringify([id, law, q.model ?? null, q.batchSize ?? null, curves.length, stamp]);
      let fits = fitCache.get(cacheKey);
      if (!fits) {
        fits = fitGroups(curves, law);
        fitCache.set(cacheKey, fits);
        while (fitCache.size > FIT_CACHE_SIZE) fitCache.delete(fitCache.keys().next().value as string);
      }
      // The schedule's own checks (warmup + decay ≤ T, …) name the field at fault.
      const probe = fits[0] as GroupFit;
      try {
        createSchedule(scheduleFor(q, probe.lr, probe.warmupTokens), {
          totalTokens: q.tokens,
          batchSize: probe.batchSize,
        });
      } catch (err) {
        throw problem(400, "invalid-query", "Invalid query", (err as Error).message, {
          errors: [{ path: "/querystring/schedule", message: (err as Error).message }],
        });
      }
      const groups = fits.map((g) => {
        if (!g.fit) return { ...g, fit: null, schedule: null, final: null, curve: [] };
        const schedule = scheduleFor(q, g.lr, g.warmupTokens);
        const pred = predictLossCurve(
          g.fit,
          { schedule, tokens: q.tokens, batchSize: g.batchSize, seqLen: g.seqLen },
          {
            points: q.points ?? 50,
          },
        );
        const { law: fitLaw, params, ci95, testOffset, residualScale, nPoints, nCurves } = g.fit;
        return {
          model: g.model,
          batchSize: g.batchSize,
          lr: g.lr,
          runs: g.runs,
          error: null,
          fit: { law: fitLaw, params, ci95, testOffset, residualScale, nPoints, nCurves },
          schedule: schedule as unknown as Record<string, unknown>,
          final: pred.final,
          curve: pred.curve,
        };
      });
      const etaOpt: Static<typeof ResponseSchema>["etaOpt"] = [];
      const advice: Static<typeof ResponseSchema>["advice"] = [];
      const byModelBatch = new Map<string, GroupFit[]>();
      for (const g of fits) {
        if (!g.fit) continue;
        const key = JSON.stringify([g.model, g.batchSize]);
        byModelBatch.set(key, [...(byModelBatch.get(key) ?? []), g]);
      }
      for (const members of byModelBatch.values()) {
        const first = members[0] as GroupFit;
        const shape = { tokens: q.tokens, batchSize: first.batchSize, seqLen: first.seqLen };
        const pred = predictEtaOpt(
          members.map((g) => ({ lr: g.lr, fit: g.fit as LossCurveFit })),
          { ...shape, scheduleFor: (lr) => scheduleFor(q, lr, first.warmupTokens) },
        );
        etaOpt.push({
          model: first.model,
          batchSize: first.batchSize,
          predicted: true,
          etaOpt: pred.estimate.etaOpt,
          ci95: pred.estimate.ci95,
          lossAtOpt: pred.estimate.lossAtOpt,
          extend: pred.estimate.extend,
          lrs: members.length,
        });
        const bestIndex = pred.points.reduce((bi, p, i, all) => (p.loss < (all[bi] as typeof p).loss ? i : bi), 0);
        const bestGroup = members.find((g) => g.lr === pred.points[bestIndex]?.lr) ?? first;
        const a = adviseSchedule(bestGroup.fit as LossCurveFit, {
          ...shape,
          lr: bestGroup.lr,
          warmupTokens: q.warmupTokens ?? first.warmupTokens,
        });
        advice.push({
          model: first.model,
          batchSize: first.batchSize,
          lr: bestGroup.lr,
          predicted: true,
          best: { schedule: a.best.schedule as unknown as Record<string, unknown>, loss: a.best.loss },
          baseline: { schedule: a.baseline.schedule as unknown as Record<string, unknown>, loss: a.baseline.loss },
          gain: a.gain,
        });
      }
      return { sweepId: id, tokens: q.tokens, law, predicted: true as const, groups, etaOpt, advice };
    },
  );
};

export default curveRoutes;
