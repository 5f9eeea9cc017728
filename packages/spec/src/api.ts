// The HTTP contract: the shape of every request and response of apps/api, defined once. The API
// registers these schemas on its routes (validation, serialisation, OpenAPI), and the CLI and the
// dashboard type their client with Static<typeof …> of the same schemas. Pure TypeBox: importing
// it (`@powersweep/spec/api`) pulls in neither Fastify nor the YAML parser.
//
// Every object is closed (additionalProperties: false): a field a handler returns that is not
// declared here fails the API tests (they serialise strictly), and production drops it.
import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { ID_PREFIX_PATTERN, MAX_INT32, SafeText } from "./bounds.ts";
import {
  ImportRowStatusSchema,
  SweepKindSchema,
  SweepStatusSchema,
  TRIAL_STATUSES,
  TrialStatusSchema,
  WorkerStateSchema,
} from "./status.ts";
import { DecayShapeSchema, TrialConfigSchema } from "./trial.ts";

const closed = { additionalProperties: false } as const;
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Uuid = Type.String({ format: "uuid" });
const DateTime = Type.String({ format: "date-time" });
const Count = Type.Integer({ minimum: 0 });
// Pairs are arrays of two (not Type.Tuple, whose draft-07 `items: [..]` is not JSON Schema 2020).
export const Interval = Type.Unsafe<[number, number]>(
  Type.Array(Type.Number(), { minItems: 2, maxItems: 2, description: "[lower, upper]" }),
);

// ---------------------------------------------------------------------------------------------
// Errors

export const DocumentErrorSchema = Type.Object(
  {
    path: Type.String({ description: 'JSON pointer of the offending field, e.g. "/body/axes/lr".' }),
    message: Type.String(),
    line: Type.Optional(Type.Integer({ minimum: 1, description: "1-based line in a YAML or JSON source." })),
  },
  closed,
);

/** RFC 9457 problem details: every 4xx and 5xx the API answers (application/problem+json). */
export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer({ minimum: 400, maximum: 599 }),
    detail: Type.String(),
    errors: Type.Optional(Type.Array(DocumentErrorSchema)),
  },
  { additionalProperties: true },
);
export type Problem = Static<typeof ProblemSchema>;

// ---------------------------------------------------------------------------------------------
// Parameters and queries

export const IdParamsSchema = Type.Object({ id: Uuid }, closed);
export type IdParams = Static<typeof IdParamsSchema>;

const limit = (fallback: number) => Type.Integer({ minimum: 1, maximum: 1000, default: fallback });
const offset = Type.Integer({ minimum: 0, maximum: MAX_INT32, default: 0 });
const finitePositive = Type.Number({ exclusiveMinimum: 0, maximum: 1e300 });

export const SweepListQuerySchema = Type.Object(
  {
    status: Type.Optional(SweepStatusSchema),
    tag: Type.Optional(SafeText({ minLength: 1, maxLength: 64 })),
    idPrefix: Type.Optional(
      Type.String({
        pattern: ID_PREFIX_PATTERN,
        description: "Sweeps whose id starts with this (8 or more characters).",
      }),
    ),
    limit: limit(50),
    offset,
  },
  closed,
);
export type SweepListQuery = Static<typeof SweepListQuerySchema>;

export const SubmitQuerySchema = Type.Object(
  {
    dryRun: Type.Optional(Type.Boolean({ description: "Expand and count without creating anything." })),
    name: Type.Optional(SafeText({ minLength: 1, maxLength: 200, description: "Name of a CSV import." })),
  },
  closed,
);
export type SubmitQuery = Static<typeof SubmitQuerySchema>;

export const DryRunQuerySchema = Type.Object({ dryRun: Type.Optional(Type.Boolean()) }, closed);

export const TrialListQuerySchema = Type.Object(
  {
    status: Type.Optional(TrialStatusSchema),
    model: Type.Optional(SafeText({ minLength: 1, maxLength: 64 })),
    tokens: Type.Optional(finitePositive),
    batchSize: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_INT32 })),
    lr: Type.Optional(finitePositive),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_INT32 })),
    limit: limit(100),
    offset,
  },
  closed,
);
export type TrialListQuery = Static<typeof TrialListQuerySchema>;

export const FitQuerySchema = Type.Object(
  {
    format: Type.Optional(Type.Union([Type.Literal("json"), Type.Literal("csv")])),
    table: Type.Optional(Type.Union([Type.Literal("etaOpt"), Type.Literal("gamma")])),
  },
  closed,
);
export type FitQuery = Static<typeof FitQuerySchema>;

export const PredictQuerySchema = Type.Object(
  {
    tokens: finitePositive,
    batchSize: Type.Integer({ minimum: 1, maximum: MAX_INT32 }),
    sweep: Type.Optional(Uuid),
    model: Type.Optional(SafeText({ minLength: 1, maxLength: 64 })),
    a: Type.Optional(finitePositive),
    b: Type.Optional(Type.Number({ minimum: -2, exclusiveMaximum: 0 })),
    etaMax: Type.Optional(finitePositive),
    warmupTokens: Type.Optional(Type.Number({ minimum: 0, maximum: 1e300 })),
    decayFraction: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  },
  closed,
);
export type PredictQuery = Static<typeof PredictQuerySchema>;

export const WorkerListQuerySchema = Type.Object(
  { includeStopped: Type.Optional(Type.Boolean({ default: true })) },
  closed,
);

// ---------------------------------------------------------------------------------------------
// Sweeps

/** Trials of a sweep per status (every status present, 0 when none). */
export const StatusCountsSchema = Type.Object(
  Object.fromEntries(TRIAL_STATUSES.map((s) => [s, Count])) as Record<(typeof TRIAL_STATUSES)[number], typeof Count>,
  closed,
);
export type StatusCounts = Static<typeof StatusCountsSchema>;

const sweepFields = {
  id: Uuid,
  name: Type.String(),
  kind: SweepKindSchema,
  status: SweepStatusSchema,
  tags: Type.Array(Type.String()),
  trainer: Type.String(),
  priority: Type.Integer(),
  maxAttempts: Type.Integer(),
  trialCount: Count,
  owner: Nullable(Type.String()),
  createdAt: DateTime,
  updatedAt: DateTime,
  finishedAt: Nullable(DateTime),
  counts: StatusCountsSchema,
};

export const SweepSummarySchema = Type.Object(sweepFields, closed);
export type SweepSummary = Static<typeof SweepSummarySchema>;

/** One page of a list: its items, the total that match, and where the page starts. */
const pageOf = <T extends TSchema>(item: T) =>
  Type.Object({ items: Type.Array(item), total: Count, limit: Count, offset: Count }, closed);

export const SweepListSchema = pageOf(SweepSummarySchema);
export type SweepList = Static<typeof SweepListSchema>;

/** What shared trunks save (docs/branches.md): the tokens the plan trains against the same trials each from scratch. */
export const TokenPlanSchema = Type.Object(
  {
    planned: Type.Number({
      minimum: 0,
      description: "Tokens the trials train: trunks once, each branch only its decay.",
    }),
    fromScratch: Type.Number({ minimum: 0, description: "Tokens of the same trials each trained from scratch." }),
  },
  closed,
);
export type TokenPlan = Static<typeof TokenPlanSchema>;

export const SweepDetailSchema = Type.Object(
  {
    ...sweepFields,
    trainingTokens: TokenPlanSchema,
    spec: Type.Unknown({ description: "The sweep document as accepted (see SweepDocument)." }),
    remainingTokens: Type.Number({ minimum: 0, description: "Tokens of the queued and running trials." }),
    tokensPerSecond: Nullable(Type.Number({ description: "Sweep throughput now (running trials × mean speed)." })),
  },
  closed,
);
export type SweepDetail = Static<typeof SweepDetailSchema>;

export const SweepSizeSchema = Type.Object(
  {
    trials: Count,
    axes: Type.Record(Type.String(), Count, { description: "Axis sizes in product order." }),
    description: Type.String(),
    searchMaxTrials: Type.Optional(
      Type.Integer({
        minimum: 0,
        description: "An adaptive η search (lr.search): the most trials the sweep may reach in all.",
      }),
    ),
  },
  closed,
);

/** The config of an imported result: the import row, marked. */
const ImportedConfigSchema = Type.Object(
  { imported: Type.Literal(true) },
  { additionalProperties: true, description: "An imported result row (see ImportRow)." },
);

/** A trial's axis values (its denormalised columns), as previews, lists and details carry them. */
const trialAxes = {
  model: Type.String(),
  dModel: Nullable(Type.Integer()),
  tokens: Type.Number(),
  batchSize: Type.Integer(),
  lr: Nullable(Type.Number()),
  powerA: Nullable(Type.Number()),
  powerB: Nullable(Type.Number()),
  seed: Type.Integer(),
};

/** Where a trial branches from a shared trunk (docs/branches.md); absent or null: from scratch. */
const branchFields = {
  branchFrom: Type.Optional(
    Nullable(
      Type.String({ description: "Key of the trial (same sweep) whose trunk checkpoint this one starts from." }),
    ),
  ),
  branchStep: Type.Optional(Nullable(Type.Integer({ description: "Steps taken from that checkpoint." }))),
  placedBy: Type.Optional(
    Nullable(
      Type.String({
        description:
          'The step that placed the trial: null for a grid point, "search:coarse", "search:refine", "search:extend-higher", "search:extend-lower" for an adaptive η search (docs/documents.md).',
      }),
    ),
  ),
};

/** A trial as expansion produces it (dry runs preview the first ones). */
export const TrialPreviewSchema = Type.Object(
  {
    key: Type.String(),
    config: Type.Union([TrialConfigSchema, ImportedConfigSchema]),
    ...trialAxes,
    trainLoss: Type.Optional(Nullable(Type.Number())),
    testLoss: Type.Optional(Nullable(Type.Number())),
    testPerplexity: Type.Optional(Nullable(Type.Number())),
    status: Type.Optional(ImportRowStatusSchema),
    ...branchFields,
  },
  closed,
);
export type TrialPreview = Static<typeof TrialPreviewSchema>;

export const CreatedSweepSchema = Type.Object(
  {
    id: Nullable(Uuid),
    name: Type.String(),
    kind: SweepKindSchema,
    status: Type.Union([SweepStatusSchema, Type.Literal("dry-run")]),
    trialCount: Count,
    duplicates: Count,
    size: SweepSizeSchema,
    dryRun: Type.Boolean(),
    trials: Type.Optional(Type.Array(TrialPreviewSchema, { description: "The first trials (dry run only)." })),
    trainingTokens: Type.Optional(TokenPlanSchema),
    warnings: Type.Array(Type.String({ description: "E.g. a power grid whose schedules η_max clamps alike." })),
  },
  closed,
);
export type CreatedSweep = Static<typeof CreatedSweepSchema>;

export const CancelResultSchema = Type.Object(
  {
    id: Uuid,
    status: Type.Literal("cancelled"),
    cancelled: Type.Integer({ minimum: 0, description: "Queued trials cancelled." }),
    signalled: Type.Integer({
      minimum: 0,
      description: "Running trials cancelled: each one's worker stops it at its next heartbeat.",
    }),
  },
  closed,
);
export type CancelResult = Static<typeof CancelResultSchema>;

export const RetryResultSchema = Type.Object({ id: Uuid, retried: Count }, closed);
export type RetryResult = Static<typeof RetryResultSchema>;

export const ResumeResultSchema = Type.Object(
  { id: Uuid, resumed: Type.Integer({ minimum: 0, description: "Cancelled and failed trials queued again." }) },
  closed,
);
export type ResumeResult = Static<typeof ResumeResultSchema>;

export const ExtendResultSchema = Type.Object(
  {
    id: Uuid,
    dryRun: Type.Boolean(),
    added: Count,
    trialCount: Count,
    size: SweepSizeSchema,
    trials: Type.Optional(Type.Array(TrialPreviewSchema)),
  },
  closed,
);
export type ExtendResult = Static<typeof ExtendResultSchema>;

// ---------------------------------------------------------------------------------------------
// Trials

const trialFields = {
  id: Uuid,
  sweepId: Uuid,
  key: Type.String(),
  ...trialAxes,
  status: TrialStatusSchema,
  attempts: Count,
  workerId: Nullable(Type.String()),
  startedAt: Nullable(DateTime),
  finishedAt: Nullable(DateTime),
  trainLoss: Nullable(Type.Number()),
  testLoss: Nullable(Type.Number()),
  testPerplexity: Nullable(Type.Number()),
  ...branchFields,
  tokensSeen: Nullable(Type.Number()),
  wallSeconds: Nullable(Type.Number()),
  tokensPerSecond: Nullable(Type.Number()),
  error: Nullable(Type.String()),
  errorClass: Nullable(Type.String()),
  createdAt: DateTime,
  updatedAt: DateTime,
};

export const TrialSummarySchema = Type.Object(trialFields, closed);
export type TrialSummary = Static<typeof TrialSummarySchema>;

export const TrialListSchema = pageOf(TrialSummarySchema);
export type TrialList = Static<typeof TrialListSchema>;

/** One point of a trial's loss curve; a retried trial keeps every attempt's points. */
export const TrialMetricSchema = Type.Object(
  {
    attempt: Type.Integer(),
    step: Type.Integer(),
    tokens: Type.Number(),
    lr: Type.Number(),
    trainLoss: Type.Number(),
    evalLoss: Nullable(Type.Number()),
  },
  closed,
);
export type TrialMetric = Static<typeof TrialMetricSchema>;

/** A trial attempt's dense curve (docs/trial-curves.md), columnar as stored. */
export const TrialCurveSchema = Type.Object(
  {
    step: Type.Array(Type.Integer()),
    tokens: Type.Array(Type.Number()),
    lr: Type.Array(Type.Number()),
    trainLoss: Type.Array(Nullable(Type.Number())),
    eval: Type.Object(
      {
        step: Type.Array(Type.Integer()),
        tokens: Type.Array(Type.Number()),
        loss: Type.Array(Nullable(Type.Number())),
        targets: Type.Integer({ description: "Held-out targets each eval point averages over." }),
      },
      closed,
    ),
  },
  closed,
);
export type TrialCurve = Static<typeof TrialCurveSchema>;

export const TrialDetailSchema = Type.Object(
  {
    ...trialFields,
    config: Type.Union([TrialConfigSchema, ImportedConfigSchema]),
    resultAttempt: Nullable(Type.Integer({ description: "The attempt whose result is recorded." })),
    metrics: Type.Array(TrialMetricSchema),
    curve: Nullable(TrialCurveSchema),
    curveAttempt: Nullable(Type.Integer({ description: "The attempt the curve belongs to." })),
  },
  closed,
);
export type TrialDetail = Static<typeof TrialDetailSchema>;

// ---------------------------------------------------------------------------------------------
// Workers

export const WorkerViewSchema = Type.Object(
  {
    id: Type.String(),
    host: Type.String(),
    pid: Type.Integer(),
    devices: Type.Array(Type.String(), { description: 'GPU ids, or "cpu:<n>" slots' }),
    backend: Type.String({ description: "Trainer backends offered, comma-separated" }),
    version: Type.String(),
    state: Type.Union([WorkerStateSchema, Type.Literal("lost")], {
      description: "lost: silent for more than WORKER_LOST_AFTER_SECONDS",
    }),
    currentTrialId: Nullable(Type.String()),
    tokensPerSecond: Nullable(Type.Number()),
    startedAt: DateTime,
    lastHeartbeatAt: DateTime,
    silentSeconds: Type.Number({ description: "Seconds since the last heartbeat" }),
  },
  closed,
);
export type WorkerView = Static<typeof WorkerViewSchema>;

export const WorkerListSchema = Type.Object({ workers: Type.Array(WorkerViewSchema) }, closed);
export type WorkerList = Static<typeof WorkerListSchema>;

// ---------------------------------------------------------------------------------------------
// Fits (packages/fit SweepFit; apps/api checks at compile time that the two agree)

/** What the fitter takes: POST /v1/fits options and the options a stored fit records. */
export const FitOptionsSchema = Type.Object(
  {
    bandSteps: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 10, description: "Grid steps each side of the argmin in the band fit." }),
    ),
    minPoints: Type.Optional(
      Type.Integer({ minimum: 3, maximum: 100, description: "Fewest band points for a parabola fit." }),
    ),
    etaBootstrap: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 10_000, description: "Bootstrap resamples per η_opt group." }),
    ),
    lawBootstrap: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 10_000, description: "Bootstrap resamples per power-law fit." }),
    ),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_INT32, description: "Seed of the bootstraps." })),
    topK: Type.Optional(Type.Integer({ minimum: 1, maximum: 20, description: "Batch sizes averaged into γ per T." })),
    includeEdge: Type.Optional(Type.Boolean({ description: "Keep η_opt groups on the grid's edge in the law." })),
  },
  closed,
);
export type FitOptions = Static<typeof FitOptionsSchema>;

export const FitRowSchema = Type.Object(
  {
    model: SafeText({ minLength: 1, maxLength: 64 }),
    tokens: finitePositive,
    batchSize: Type.Integer({ minimum: 1, maximum: MAX_INT32 }),
    lr: Type.Optional(Nullable(finitePositive)),
    powerA: Type.Optional(Nullable(finitePositive)),
    powerB: Type.Optional(Nullable(Type.Number({ minimum: -2, exclusiveMaximum: 0 }))),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_INT32 })),
    testLoss: Nullable(Type.Number({ minimum: -1e300, maximum: 1e300 })),
    status: Type.Optional(TrialStatusSchema),
  },
  closed,
);
export type FitRowBody = Static<typeof FitRowSchema>;

/** Largest POST /v1/fits request, in rows. */
export const MAX_FIT_ROWS = 1_000_000;

export const FitsBodySchema = Type.Object(
  {
    rows: Type.Array(FitRowSchema, { minItems: 1, maxItems: MAX_FIT_ROWS }),
    options: Type.Optional(FitOptionsSchema),
  },
  closed,
);
export type FitsBody = Static<typeof FitsBodySchema>;

const CI = Nullable(Interval);

export const EtaOptGroupSchema = Type.Object(
  {
    model: Type.String(),
    tokens: Type.Number(),
    batchSize: Type.Integer(),
    etaOpt: Type.Number({ description: "Parabola vertex in ln η (or the argmin lr on fallback)." }),
    lossAtOpt: Type.Number(),
    curvature: Nullable(Type.Number({ description: "d²loss/d(ln η)² at the vertex (Time Transfer sensitivity)." })),
    ci95: CI,
    ciMethod: Nullable(Type.Union([Type.Literal("parametric"), Type.Literal("grid")])),
    method: Type.Union([Type.Literal("parabola"), Type.Literal("argmin")]),
    fallback: Nullable(
      Type.Union([Type.Literal("non-convex"), Type.Literal("vertex-above-grid-point")], {
        description: "Why the argmin grid point is reported instead of the parabola vertex.",
      }),
    ),
    nPoints: Count,
    nLrs: Count,
    nSeeds: Count,
    onEdge: Type.Boolean(),
    extend: Nullable(Type.Union([Type.Literal("lower"), Type.Literal("higher")])),
    suggestedLrs: Type.Array(Type.Number()),
    bracketedByDivergence: Type.Boolean(),
    nDiverged: Count,
    nFailed: Count,
  },
  closed,
);
export type EtaOptGroup = Static<typeof EtaOptGroupSchema>;

export const GammaRowSchema = Type.Object(
  {
    model: Type.String(),
    tokens: Type.Number(),
    gamma: Type.Number({ description: "γ = η_opt/β averaged over the best batch sizes at this T." }),
    gammaGeoMean: Type.Number(),
    batchSizesUsed: Type.Array(Type.Integer()),
    gammas: Type.Array(Type.Number()),
  },
  closed,
);
export type GammaRow = Static<typeof GammaRowSchema>;

const AbInterval = Type.Object({ a: Interval, b: Interval }, closed);

/** γ = a·T^b (eq. 6), with intervals and the OLS covariance of (ln a, b). */
export const PowerLawSchema = Type.Object(
  {
    a: Type.Number(),
    b: Type.Number(),
    lnA: Type.Number(),
    r2: Nullable(Type.Number()),
    n: Count,
    sigmaLn: Nullable(Type.Number()),
    residuals: Type.Array(
      Type.Object(
        { tokens: Type.Number(), gamma: Type.Number(), model: Nullable(Type.String()), residualLn: Type.Number() },
        closed,
      ),
    ),
    ci95: Nullable(AbInterval),
    ci95Method: Nullable(Type.Union([Type.Literal("bootstrap"), Type.Literal("bootstrap+t")])),
    ci95Analytic: Nullable(AbInterval),
    cov: Nullable(Type.Object({ varLnA: Type.Number(), varB: Type.Number(), covLnAB: Type.Number() }, closed)),
  },
  closed,
);
export type PowerLaw = Static<typeof PowerLawSchema>;

export const TransferCheckSchema = Type.Object(
  {
    agree: Type.Boolean(),
    commonB: CI,
    perModel: Type.Array(Type.Object({ model: Type.String(), b: Type.Number(), ci95: CI }, closed)),
    disagreeing: Type.Array(Type.Unsafe<[string, string]>(Type.Array(Type.String(), { minItems: 2, maxItems: 2 }))),
    detail: Type.String(),
  },
  closed,
);

export const BatchSizeRowSchema = Type.Object(
  {
    model: Type.String(),
    tokens: Type.Number(),
    batchSize: Type.Integer(),
    lossAtOpt: Type.Number(),
    etaOpt: Type.Number(),
    onEdge: Nullable(Type.Union([Type.Literal("lower"), Type.Literal("higher")])),
  },
  closed,
);

export const BatchSizeLawSchema = Type.Object(
  {
    table: Type.Array(BatchSizeRowSchema),
    perModel: Type.Record(
      Type.String(),
      Nullable(
        Type.Object({ c: Type.Number(), d: Type.Number(), r2: Nullable(Type.Number()), n: Count, ci95D: CI }, closed),
      ),
    ),
    notes: Type.Array(Type.String()),
  },
  closed,
);

const PowerPoint = { powerA: Type.Number(), powerB: Type.Number() };
export const PowerSweepSummarySchema = Type.Object(
  {
    surfaces: Type.Array(
      Type.Object(
        {
          tokens: Type.Number(),
          batchSize: Type.Integer(),
          model: Type.String(),
          cells: Type.Array(Type.Object({ ...PowerPoint, meanLoss: Type.Number(), nSeeds: Count }, closed)),
        },
        closed,
      ),
    ),
    aggregate: Type.Array(Type.Object({ ...PowerPoint, meanExcessLoss: Type.Number(), nGroups: Count }, closed)),
    best: Nullable(Type.Object({ ...PowerPoint, meanExcessLoss: Type.Number() }, closed)),
    spreadAlongA: Nullable(Type.Number()),
    spreadAlongB: Nullable(Type.Number()),
    flatter: Nullable(Type.Union([Type.Literal("a"), Type.Literal("b")])),
    rowsUsed: Count,
    noiseSd: Nullable(Type.Number({ description: "Pooled spread between seeds of one (a, b, T, β) cell." })),
    indistinguishable: Type.Boolean({ description: "The (a, b) losses differ by less than their noise." }),
    warnings: Type.Array(Type.String()),
  },
  closed,
);

export const LossNoiseSchema = Type.Object(
  {
    sd: Type.Number(),
    dof: Count,
    source: Type.Union([
      Type.Literal("seeds"),
      Type.Literal("band residuals"),
      Type.Literal("seeds and band residuals"),
    ]),
  },
  closed,
);

const fitFields = {
  options: Type.Required(FitOptionsSchema),
  counts: Type.Object({ rows: Count, used: Count, diverged: Count, failed: Count, powerSweepRows: Count }, closed),
  etaOpt: Type.Array(EtaOptGroupSchema),
  gamma: Type.Array(GammaRowSchema),
  law: Type.Object(
    {
      pooled: Nullable(PowerLawSchema),
      perModel: Type.Record(Type.String(), Nullable(PowerLawSchema)),
      transfer: Nullable(TransferCheckSchema),
    },
    closed,
  ),
  batchSizeLaw: BatchSizeLawSchema,
  powerSweep: Nullable(PowerSweepSummarySchema),
  noise: Nullable(LossNoiseSchema),
  warnings: Type.Array(Type.String()),
};

/** A fit of result rows (POST /v1/fits): packages/fit's SweepFit. */
export const SweepFitSchema = Type.Object(fitFields, closed);
export type SweepFit = Static<typeof SweepFitSchema>;

/** A sweep's stored fit (GET /v1/sweeps/:id/fit): the SweepFit with where it came from. */
export const StoredFitSchema = Type.Object(
  {
    id: Uuid,
    sweepId: Uuid,
    createdAt: DateTime,
    inputs: Type.Object(
      {
        rowCount: Count,
        options: Type.Unknown(),
        hash: Type.String({ description: "sha256 of the fit's inputs (rows and options): the input's identity." }),
      },
      closed,
    ),
    ...fitFields,
  },
  closed,
);
export type StoredFit = Static<typeof StoredFitSchema>;

export const PowerScheduleConfigSchema = Type.Object(
  {
    type: Type.Literal("power"),
    powerA: Type.Number(),
    powerB: Type.Number(),
    etaMax: Type.Number(),
    warmupTokens: Type.Number(),
    decayFraction: Type.Number(),
    decayShape: DecayShapeSchema,
  },
  closed,
);

export const PredictionSchema = Type.Object(
  {
    tokens: Type.Number(),
    batchSize: Type.Integer(),
    law: Type.Object({ a: Type.Number(), b: Type.Number() }, closed),
    source: Type.Union([
      Type.Object({ sweep: Uuid, fitId: Uuid, model: Type.String() }, closed),
      Type.Object({ a: Type.Number(), b: Type.Number() }, closed),
    ]),
    lr: Type.Number({ description: "η = β·a·T^b (eq. 6)." }),
    ci95: CI,
    seLn: Nullable(Type.Number()),
    df: Nullable(Type.Integer({ description: "Degrees of freedom of the Student-t quantile (n − 2)." })),
    fittedTokensRange: Nullable(Interval),
    extrapolationFactor: Nullable(Type.Number({ description: "How far T lies past the fitted token range (> 1)." })),
    etaMax: Type.Number(),
    aboveEtaMax: Type.Boolean(),
    units: Type.Object({ tokens: Type.String(), batchSize: Type.String(), lr: Type.String() }, closed),
    powerASource: Type.String(),
    warnings: Type.Array(Type.String()),
    schedule: PowerScheduleConfigSchema,
  },
  closed,
);
export type Prediction = Static<typeof PredictionSchema>;

// ---------------------------------------------------------------------------------------------
// Health

export const HealthSchema = Type.Object({ status: Type.Literal("ok") }, closed);
export const ReadySchema = Type.Object(
  {
    status: Type.Union([Type.Literal("ready"), Type.Literal("unavailable")]),
    postgres: Type.String({ description: '"ok" or why not' }),
    redis: Type.String({ description: '"ok" or why not' }),
  },
  closed,
);
export type Ready = Static<typeof ReadySchema>;

export * from "./bounds.ts";
export * from "./status.ts";

// ---------------------------------------------------------------------------------------------
// Offline batches (docs/offline.md)

const ExportedTrialSchema = Type.Object(
  {
    trialId: Uuid,
    sweepId: Uuid,
    attempt: Type.Integer({ minimum: 1 }),
    trainer: Type.String(),
    config: TrialConfigSchema,
  },
  closed,
);
export const ExportResultSchema = Type.Object(
  { sweepId: Uuid, batch: Type.String(), trials: Type.Array(ExportedTrialSchema) },
  closed,
);
const IMPORT_OUTCOMES = ["recorded", "duplicate", "not-held", "unfinished", "unknown"] as const;
const ImportOutcomeSchema = Type.Union(IMPORT_OUTCOMES.map((o) => Type.Literal(o)));
export const ImportReportSchema = Type.Object(
  {
    outcomes: Type.Array(
      Type.Object({ trialId: Type.String(), attempt: Type.Integer(), outcome: ImportOutcomeSchema }, closed),
    ),
    counts: Type.Object(
      Object.fromEntries(IMPORT_OUTCOMES.map((o) => [o, Count])) as Record<
        (typeof IMPORT_OUTCOMES)[number],
        typeof Count
      >,
      closed,
    ),
    sweepIds: Type.Array(Uuid),
  },
  closed,
);
export const ReleaseResultSchema = Type.Object({ batch: Type.String(), released: Type.Array(Uuid) }, closed);
