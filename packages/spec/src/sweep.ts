// The sweep document: what a researcher writes (JSON or YAML) to ask for a grid of trials.
// One TypeBox schema here drives the API's validation, its OpenAPI docs and the CLI's offline
// check (parseSweepDocument). packages/sweep expands a valid document into TrialConfigs.
import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { type ValueError, ValueErrorType } from "@sinclair/typebox/errors";
import { Value } from "@sinclair/typebox/value";
import { LineCounter, parseDocument } from "yaml";
import { MAX_INT32, MAX_TRIAL_ATTEMPTS, SafeText } from "./bounds.ts";
import { IMPORT_ROW_STATUSES } from "./status.ts";
import {
  type Corpus,
  CorpusSchema,
  type DecayShape,
  DecayShapeSchema,
  ModelShapeSchema,
  type Mup,
  MupSchema,
  type Optimizer,
  OptimizerSchema,
  type Tokenizer,
  TokenizerSchema,
} from "./trial.ts";

/** Largest number of points one range helper may produce (absurd sizes are rejected). */
export const MAX_AXIS_POINTS = 10_000;

/**
 * Fixed training settings every trial gets unless the document's `training` block overrides them.
 * Chosen so a tiny byte-level μP proxy trains well on the SOTU corpus in seconds.
 */
export const TRAINING_DEFAULTS: {
  seqLen: number;
  corpus: Corpus;
  tokenizer: Tokenizer;
  mup: Mup;
  optimizer: Optimizer;
  evalTokens: number;
} = {
  seqLen: 128,
  corpus: { type: "sotu" },
  tokenizer: { type: "byte" },
  // Table 1 of 2408.13359 names; m_emb = 10 keeps embeddings from vanishing at small widths.
  mup: { embMultiplier: 10, residualMultiplier: 1, initStd: 0.02 },
  optimizer: { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 },
  // 512 sequences of 128 tokens: enough for a stable held-out loss on a proxy.
  evalTokens: 65_536,
};

/** Schedule defaults: WSD with a 10 % exponential final decay (the paper's choice, eq. 8). */
export const SCHEDULE_DEFAULTS = {
  type: "wsd" as const,
  warmupTokens: 0,
  decayFraction: 0.1,
  decayShape: "exponential" as DecayShape,
  minLrRatio: 0,
};

/** Seeds when the document names none. */
export const DEFAULT_SEEDS = [0];

const finite = (opts: Record<string, unknown> = {}) => Type.Number(opts);
const count = (description: string) => Type.Integer({ minimum: 1, maximum: MAX_AXIS_POINTS, description });

const LogspaceSchema = Type.Object(
  {
    logspace: Type.Object(
      {
        from: finite({ exclusiveMinimum: 0 }),
        to: finite({ exclusiveMinimum: 0 }),
        num: count("Number of points, log-evenly spaced, both ends included."),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
const LinspaceSchema = Type.Object(
  {
    linspace: Type.Object(
      { from: finite(), to: finite(), num: count("Number of points, evenly spaced, both ends included.") },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
const GeometricSchema = Type.Object(
  {
    geometric: Type.Object(
      {
        from: finite({ exclusiveMinimum: 0 }),
        factor: finite({ exclusiveMinimum: 0 }),
        count: count("Number of points: from, from·factor, from·factor², …"),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type RangeHelper =
  | Static<typeof LogspaceSchema>
  | Static<typeof LinspaceSchema>
  | Static<typeof GeometricSchema>;

/** A numeric axis: an explicit list or a range helper. */
function numberAxis(item: TSchema, description: string) {
  return Type.Union(
    [Type.Array(item, { minItems: 1, maxItems: MAX_AXIS_POINTS }), LogspaceSchema, LinspaceSchema, GeometricSchema],
    { description },
  );
}

const TokensAxis = numberAxis(finite({ exclusiveMinimum: 0 }), "T: total training tokens per trial.");
const BatchSizeAxis = numberAxis(
  Type.Integer({ minimum: 1, maximum: MAX_INT32 }),
  "β: sequences per step (range values are rounded).",
);
const LrAxis = numberAxis(finite({ exclusiveMinimum: 0 }), "η: peak learning rate.");

/** Defaults of an adaptive η search (`axes.lr.search`). */
export const LR_SEARCH_DEFAULTS = { tolerance: 1.25, maxTrials: 8, initialPoints: 5 };

/**
 * Adaptive η search per (model, T, β) (issue: study engine): a coarse log grid over [from, to],
 * then learning rates placed around the best point until η_opt is known within a factor
 * `tolerance` or the cell has run `maxTrials` trials (packages/fit lrSearch.ts).
 */
export const LrSearchSchema = Type.Object(
  {
    search: Type.Object(
      {
        from: finite({ exclusiveMinimum: 0, description: "Smallest η of the coarse grid." }),
        to: finite({ exclusiveMinimum: 0, description: "Largest η of the coarse grid (> from)." }),
        tolerance: Type.Optional(
          finite({
            exclusiveMinimum: 1,
            maximum: 100,
            description: "Stop when η_opt's 95% interval lies within this factor of it (default 1.25).",
          }),
        ),
        maxTrials: Type.Optional(
          Type.Integer({
            minimum: 3,
            maximum: 1000,
            description: "Trials per (model, T, β) at most, the coarse grid included (default 8).",
          }),
        ),
        initialPoints: Type.Optional(
          Type.Integer({ minimum: 3, maximum: 100, description: "Points of the coarse grid (default 5)." }),
        ),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type LrSearch = Static<typeof LrSearchSchema>["search"];

const LrGridLrAxis = Type.Union(
  [
    Type.Array(finite({ exclusiveMinimum: 0 }), { minItems: 1, maxItems: MAX_AXIS_POINTS }),
    LogspaceSchema,
    LinspaceSchema,
    GeometricSchema,
    LrSearchSchema,
  ],
  { description: "η: peak learning rate: a list, a range helper, or an adaptive search ({ search: … })." },
);
const PowerAAxis = numberAxis(finite({ exclusiveMinimum: 0 }), "a of eq. 7.");
const PowerBAxis = Type.Union(
  [
    Type.Array(finite({ exclusiveMaximum: 0, minimum: -2 }), { minItems: 1, maxItems: MAX_AXIS_POINTS }),
    LinspaceSchema,
  ],
  { description: "b (negative) of eq. 7: a list or a linspace." },
);
const SeedsAxis = Type.Union(
  [
    Type.Array(Type.Integer({ minimum: 0, maximum: MAX_INT32 }), { minItems: 1, maxItems: MAX_AXIS_POINTS }),
    Type.Object({ count: count("Seeds 0 … count-1.") }, { additionalProperties: false }),
  ],
  { description: "Seeds (default [0])." },
);
const ModelsAxis = Type.Array(ModelShapeSchema, {
  minItems: 1,
  maxItems: 1000,
  description: "μP proxy shapes; each needs a unique name.",
});

export type NumberAxis = Static<typeof TokensAxis>;
export type SeedsAxisValue = Static<typeof SeedsAxis>;

const TrainingSchema = Type.Object(
  {
    seqLen: Type.Optional(Type.Integer({ minimum: 2, maximum: 65536 })),
    corpus: Type.Optional(CorpusSchema),
    tokenizer: Type.Optional(TokenizerSchema),
    mup: Type.Optional(Type.Partial(MupSchema, { additionalProperties: false })),
    optimizer: Type.Optional(Type.Partial(OptimizerSchema, { additionalProperties: false })),
    evalTokens: Type.Optional(Type.Integer({ minimum: 1, maximum: 1e9 })),
  },
  { additionalProperties: false, description: "Fixed training settings; defaults in TRAINING_DEFAULTS." },
);

const common = {
  name: SafeText({ minLength: 1, maxLength: 200 }),
  trainer: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 64,
      pattern: "^[A-Za-z0-9._-]+$",
      description: 'Trainer backend (default "tfjs").',
    }),
  ),
  priority: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: 2_097_152,
      description: "1 runs first, larger numbers later; 0 (the default) after every prioritised sweep.",
    }),
  ),
  maxAttempts: Type.Optional(
    Type.Integer({ minimum: 1, maximum: MAX_TRIAL_ATTEMPTS, description: "Attempts per trial (crashes retry)." }),
  ),
  trialMaxSeconds: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 31_536_000,
      description:
        "Wall-clock limit of one trial attempt, in seconds; past it the trial is stopped and failed. At most the deployment's TRIAL_MAX_SECONDS (its default).",
    }),
  ),
  tags: Type.Optional(Type.Array(SafeText({ minLength: 1, maxLength: 64 }), { maxItems: 50 })),
};

const warmupTokens = Type.Number({ minimum: 0, description: "Linear warmup length, in tokens." });
const decayFraction = Type.Number({ minimum: 0, maximum: 1, description: "Fraction of T spent in the final decay." });

export const LrScheduleSchema = Type.Object(
  {
    type: Type.Optional(Type.Union([Type.Literal("wsd"), Type.Literal("cosine"), Type.Literal("constant")])),
    warmupTokens: Type.Optional(warmupTokens),
    decayFraction: Type.Optional(decayFraction),
    decayShape: Type.Optional(DecayShapeSchema),
    minLrRatio: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: "cosine only: final lr / η." })),
  },
  { additionalProperties: false },
);

export const PowerScheduleSchema = Type.Object(
  {
    etaMax: Type.Number({ exclusiveMinimum: 0, description: "η_max clamp of eq. 7." }),
    warmupTokens: Type.Optional(warmupTokens),
    decayFraction: Type.Optional(decayFraction),
    decayShape: Type.Optional(DecayShapeSchema),
  },
  { additionalProperties: false, description: "Power scheduler, eq. 8: warmup, min(η_max, β·a·n^b), final decay." },
);

export const LrGridAxesSchema = Type.Object(
  {
    models: ModelsAxis,
    tokens: TokensAxis,
    batchSize: BatchSizeAxis,
    lr: LrGridLrAxis,
    seeds: Type.Optional(SeedsAxis),
  },
  { additionalProperties: false },
);
export const PowerGridAxesSchema = Type.Object(
  {
    models: ModelsAxis,
    powerA: PowerAAxis,
    powerB: PowerBAxis,
    tokens: TokensAxis,
    batchSize: BatchSizeAxis,
    seeds: Type.Optional(SeedsAxis),
  },
  { additionalProperties: false },
);

/**
 * Shared trunks (issue: study engine): trials that differ only in T run one trunk up to their decay
 * starts and branch from its checkpoints (packages/sweep trunks.ts, docs/branches.md).
 */
export const ShareSchema = Type.Union([Type.Literal("trunks"), Type.Literal("none")], {
  description:
    '"trunks" (the default): trials that differ only in T share their stable phase; each trains only its decay branch from the longest trial\'s checkpoint, with the same result as from scratch. "none": every trial from scratch. Cosine schedules never share.',
});
export type Share = Static<typeof ShareSchema>;

export const LrGridSweepSchema = Type.Object(
  {
    kind: Type.Literal("lr-grid"),
    ...common,
    share: Type.Optional(ShareSchema),
    axes: LrGridAxesSchema,
    schedule: Type.Optional(LrScheduleSchema),
    training: Type.Optional(TrainingSchema),
  },
  { additionalProperties: false, description: "Cartesian product models × tokens × batchSize × lr × seeds." },
);

export const PowerGridSweepSchema = Type.Object(
  {
    kind: Type.Literal("power-grid"),
    ...common,
    share: Type.Optional(ShareSchema),
    axes: PowerGridAxesSchema,
    schedule: PowerScheduleSchema,
    training: Type.Optional(TrainingSchema),
  },
  {
    additionalProperties: false,
    description: "Cartesian product models × powerA × powerB × tokens × batchSize × seeds.",
  },
);

export const ImportRowSchema = Type.Object(
  {
    model: SafeText({ minLength: 1, maxLength: 64 }),
    tokens: Type.Number({ exclusiveMinimum: 0 }),
    batchSize: Type.Integer({ minimum: 1, maximum: MAX_INT32 }),
    lr: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    powerA: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    powerB: Type.Optional(Type.Number({ exclusiveMaximum: 0, minimum: -2 })),
    testLoss: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    testPerplexity: Type.Optional(Type.Number({ minimum: 1 })),
    trainLoss: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    dModel: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_INT32 })),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_INT32 })),
    status: Type.Optional(
      Type.Union(
        IMPORT_ROW_STATUSES.map((v) => Type.Literal(v)),
        {
          description: "Outcome of the run (default succeeded); diverged runs are divergence evidence for the fit.",
        },
      ),
    ),
  },
  { additionalProperties: false },
);
export type ImportRow = Static<typeof ImportRowSchema>;

export const ImportSweepSchema = Type.Object(
  {
    kind: Type.Literal("import"),
    ...common,
    rows: Type.Array(ImportRowSchema, { minItems: 1, maxItems: 1_000_000 }),
  },
  {
    additionalProperties: false,
    description:
      "Results run elsewhere, stored as finished trials (succeeded unless a row says diverged or failed) for fitting.",
  },
);

export const SweepDocumentSchema = Type.Union([LrGridSweepSchema, PowerGridSweepSchema, ImportSweepSchema], {
  $id: "SweepDocument",
});
export type LrGridSweep = Static<typeof LrGridSweepSchema>;
export type PowerGridSweep = Static<typeof PowerGridSweepSchema>;
export type ImportSweep = Static<typeof ImportSweepSchema>;
export type SweepDocument = Static<typeof SweepDocumentSchema>;
export type GridSweep = LrGridSweep | PowerGridSweep;

/** POST /sweeps/:id/extend: axis values to add, in the shape of the sweep's axes. */
export const ExtendDocumentSchema = Type.Object(
  {
    models: Type.Optional(ModelsAxis),
    tokens: Type.Optional(TokensAxis),
    batchSize: Type.Optional(BatchSizeAxis),
    lr: Type.Optional(LrAxis),
    powerA: Type.Optional(PowerAAxis),
    powerB: Type.Optional(PowerBAxis),
    seeds: Type.Optional(SeedsAxis),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type ExtendDocument = Static<typeof ExtendDocumentSchema>;

// ---------------------------------------------------------------------------------------------
// Parsing and validation: one place for the API and the CLI.

export interface DocumentError {
  /** JSON pointer of the offending field, e.g. "/axes/lr/logspace/from"; "" for the whole document. */
  path: string;
  message: string;
  /** 1-based line in a YAML (or JSON) source, when known. */
  line?: number;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; errors: DocumentError[] };

export const SWEEP_CONTENT_TYPES = [
  "application/json",
  "application/yaml",
  "text/yaml",
  "application/x-yaml",
  "text/csv",
];

/** Limits on YAML alias expansion (YAML bombs). */
export const YAML_MAX_ALIAS_COUNT = 50;

/** The media type without parameters, lower-cased. */
export function mediaType(contentType: string | undefined): string {
  return (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

function isYaml(type: string) {
  return type === "application/yaml" || type === "text/yaml" || type === "application/x-yaml" || type === "text/x-yaml";
}

interface Source {
  value: unknown;
  lineOf: (path: string) => number | undefined;
}

function pointerSegments(path: string): string[] {
  return path
    .split("/")
    .slice(1)
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

/** Parses JSON or YAML text into a plain value, with a way back from a field path to its line. */
export function parseText(text: string, contentType: string): ParseResult<Source> {
  const type = mediaType(contentType);
  if (type === "application/json" || type.endsWith("+json")) {
    try {
      return { ok: true, value: { value: JSON.parse(text), lineOf: () => undefined } };
    } catch (err) {
      const message = (err as Error).message;
      const pos = /position (\d+)/.exec(message);
      const line = pos ? text.slice(0, Number(pos[1])).split("\n").length : undefined;
      return { ok: false, errors: [{ path: "", message: `invalid JSON: ${message}`, ...(line ? { line } : {}) }] };
    }
  }
  if (isYaml(type)) {
    const lineCounter = new LineCounter();
    const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true });
    if (doc.errors.length) {
      return {
        ok: false,
        errors: doc.errors.map((e) => ({
          path: "",
          message: `invalid YAML: ${e.message.split("\n")[0]}`,
          // prettyErrors is off (its messages quote the source), so the line comes from the offset.
          line: lineCounter.linePos(e.pos[0]).line,
        })),
      };
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: YAML_MAX_ALIAS_COUNT });
    } catch (err) {
      return { ok: false, errors: [{ path: "", message: `invalid YAML: ${(err as Error).message}` }] };
    }
    const lineOf = (path: string) => {
      const segs = pointerSegments(path);
      for (let n = segs.length; n >= 0; n--) {
        const node = doc.getIn(
          segs.slice(0, n).map((s) => (/^\d+$/.test(s) ? Number(s) : s)),
          true,
        ) as { range?: [number, number, number] } | undefined;
        if (node && typeof node === "object" && node.range) return lineCounter.linePos(node.range[0]).line;
        if (n === 0 && doc.contents?.range) return lineCounter.linePos(doc.contents.range[0]).line;
      }
      return undefined;
    };
    return { ok: true, value: { value, lineOf } };
  }
  return {
    ok: false,
    errors: [
      { path: "", message: `unsupported content type "${type || "(none)"}": use application/json or application/yaml` },
    ],
  };
}

/** Variant of a union that a value evidently means: by array-ness, literal `kind`/`type`, or single helper key. */
function pickVariant(variants: TSchema[], value: unknown): TSchema | undefined {
  if (Array.isArray(value)) return variants.find((v) => v.type === "array");
  if (value === null || typeof value !== "object") return undefined;
  const obj = value as Record<string, unknown>;
  const objects = variants.filter((v) => v.type === "object" && v.properties);
  for (const disc of ["kind", "type"]) {
    const match = objects.find(
      (v) => v.properties[disc]?.const !== undefined && v.properties[disc].const === obj[disc],
    );
    if (match) return match;
  }
  const keys = Object.keys(obj);
  const byKey = objects.filter((v) => keys.some((k) => k in v.properties && v.required?.includes(k)));
  if (byKey.length === 1) return byKey[0];
  return undefined;
}

function describe(e: ValueError): string {
  switch (e.type) {
    case ValueErrorType.ObjectAdditionalProperties:
      return "unknown field";
    case ValueErrorType.ObjectRequiredProperty:
      return "is required";
    case ValueErrorType.Number:
    case ValueErrorType.Integer:
      if (typeof e.value === "number" && !Number.isFinite(e.value)) return `must be a finite number, got ${e.value}`;
      return e.message.toLowerCase();
    default:
      return e.message.charAt(0).toLowerCase() + e.message.slice(1);
  }
}

/** Schema errors with field paths; unions are explained through the variant the value means. */
export function schemaErrors(schema: TSchema, value: unknown, prefix = "", limit = 50): DocumentError[] {
  const out: DocumentError[] = [];
  for (const e of Value.Errors(schema, value)) {
    if (out.length >= limit) break;
    const path = prefix + e.path;
    if (e.type === ValueErrorType.Union) {
      const variant = pickVariant((e.schema as unknown as { anyOf: TSchema[] }).anyOf, e.value);
      if (variant) {
        out.push(...schemaErrors(variant, e.value, path, limit - out.length));
        continue;
      }
      const kinds = (e.schema as unknown as { anyOf: TSchema[] }).anyOf
        .map((v) =>
          v.type === "array"
            ? "a list"
            : (v.const ?? v.properties?.kind?.const ?? v.properties?.type?.const ?? Object.keys(v.properties ?? {})[0]),
        )
        .map((k) => (k === "a list" ? k : `"${k}"`));
      const which = path === "" ? "kind" : "value";
      out.push({ path: path === "" ? "/kind" : path, message: `${which} must be one of ${kinds.join(", ")}` });
      continue;
    }
    // TypeBox reports an unknown property at its own path.
    if (e.type === ValueErrorType.ObjectAdditionalProperties) {
      const allowed = Object.keys((e.schema as { properties?: object }).properties ?? {});
      out.push({ path, message: `unknown field (allowed: ${allowed.join(", ")})` });
      continue;
    }
    if (e.type === ValueErrorType.ObjectRequiredProperty) {
      out.push({ path, message: "is required" });
      continue;
    }
    out.push({ path, message: describe(e) });
  }
  // Value.Errors may report one fact twice (e.g. Integer and Number); keep the first per path+message.
  const seen = new Set<string>();
  return out.filter((e) => {
    const id = `${e.path}\u0000${e.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

function rangeErrors(axis: unknown, path: string, integer: boolean): DocumentError[] {
  if (!axis || typeof axis !== "object" || Array.isArray(axis)) return [];
  const a = axis as Partial<Record<"logspace" | "linspace", { from: number; to: number; num: number }>> & {
    geometric?: { from: number; factor: number; count: number };
  };
  const errs: DocumentError[] = [];
  for (const k of ["logspace", "linspace"] as const) {
    const r = a[k];
    if (r && r.from > r.to)
      errs.push({ path: `${path}/${k}/from`, message: `from (${r.from}) must be ≤ to (${r.to})` });
    if (r && r.num === 1 && r.from !== r.to)
      errs.push({ path: `${path}/${k}/num`, message: "num must be ≥ 2 when from ≠ to" });
  }
  const g = a.geometric;
  if (g && g.count > 1 && !Number.isFinite(g.from * g.factor ** (g.count - 1)))
    errs.push({ path: `${path}/geometric/count`, message: "the last point overflows" });
  if (integer) {
    const r = a.linspace ?? a.logspace;
    const lo = a.geometric ? a.geometric.from : r?.from;
    if (lo !== undefined && lo < 1)
      errs.push({
        path: `${path}/${Object.keys(a)[0] ?? ""}/from`,
        message: "must be ≥ 1 (batch sizes are whole sequences)",
      });
  }
  return errs;
}

/** Checks a schema cannot say: ranges go upward, head sizes multiply to dModel, model names unique. */
function semanticErrors(axes: Record<string, unknown>, prefix: string): DocumentError[] {
  const errs: DocumentError[] = [];
  for (const [k, v] of Object.entries(axes)) {
    if (k === "models" || k === "seeds") continue;
    errs.push(...rangeErrors(v, `${prefix}/${k}`, k === "batchSize"));
  }
  const tokens = axes.tokens;
  if (tokens && typeof tokens === "object" && "linspace" in tokens && (tokens.linspace as { from: number }).from <= 0)
    errs.push({ path: `${prefix}/tokens/linspace/from`, message: "must be > 0 (tokens are positive)" });
  const lr = axes.lr;
  if (lr && typeof lr === "object" && "search" in lr) {
    const r = lr.search as { from: number; to: number; initialPoints?: number; maxTrials?: number };
    if (!(r.from < r.to))
      errs.push({ path: `${prefix}/lr/search/from`, message: `from (${r.from}) must be < to (${r.to})` });
    const initial = r.initialPoints ?? LR_SEARCH_DEFAULTS.initialPoints;
    const max = r.maxTrials ?? LR_SEARCH_DEFAULTS.maxTrials;
    if (initial > max)
      errs.push({
        path: `${prefix}/lr/search/maxTrials`,
        message: `maxTrials (${max}) must be ≥ initialPoints (${initial})`,
      });
  }
  if (lr && typeof lr === "object" && "linspace" in lr && (lr.linspace as { from: number }).from <= 0)
    errs.push({ path: `${prefix}/lr/linspace/from`, message: "must be > 0 (learning rates are positive)" });
  const powerB = axes.powerB;
  if (powerB && typeof powerB === "object" && "linspace" in powerB) {
    const r = powerB.linspace as { from: number; to: number };
    if (r.from < -2 || r.to >= 0) errs.push({ path: `${prefix}/powerB/linspace`, message: "b must lie in [-2, 0)" });
  }
  const models = Array.isArray(axes.models) ? (axes.models as Array<Record<string, number | string>>) : [];
  const names = new Map<string, number>();
  models.forEach((m, i) => {
    if (Number(m.nHeads) * Number(m.dHead) !== Number(m.dModel))
      errs.push({
        path: `${prefix}/models/${i}/nHeads`,
        message: `nHeads·dHead (${m.nHeads}·${m.dHead}) must equal dModel (${m.dModel})`,
      });
    const prev = names.get(String(m.name));
    if (prev !== undefined)
      errs.push({
        path: `${prefix}/models/${i}/name`,
        message: `duplicate model name "${m.name}" (also /models/${prev})`,
      });
    else names.set(String(m.name), i);
  });
  return errs;
}

function withLines(errors: DocumentError[], src: Source): DocumentError[] {
  return errors.map((e) => {
    const line = src.lineOf(e.path);
    return line ? { ...e, line } : e;
  });
}

/** Validates an already-parsed value as a sweep document. */
export function validateSweepDocument(value: unknown): ParseResult<SweepDocument> {
  const errors = schemaErrors(SweepDocumentSchema, value);
  if (errors.length) return { ok: false, errors };
  const doc = value as SweepDocument;
  if (doc.kind !== "import") {
    const errs = semanticErrors(doc.axes as Record<string, unknown>, "/axes");
    if (doc.kind === "lr-grid" && doc.schedule?.minLrRatio !== undefined && doc.schedule.type !== "cosine")
      errs.push({ path: "/schedule/minLrRatio", message: "only applies to cosine schedules" });
    if (errs.length) return { ok: false, errors: errs };
  } else {
    const errs: DocumentError[] = [];
    doc.rows.forEach((r, i) => {
      if (errs.length >= 50) return;
      if ((r.status ?? "succeeded") === "succeeded" && r.testLoss === undefined && r.testPerplexity === undefined)
        errs.push({ path: `/rows/${i}`, message: "needs testLoss or testPerplexity (or status diverged or failed)" });
      const hasLr = r.lr !== undefined;
      const hasPower = r.powerA !== undefined || r.powerB !== undefined;
      if (hasLr === hasPower || (hasPower && (r.powerA === undefined || r.powerB === undefined)))
        errs.push({ path: `/rows/${i}`, message: "needs either lr, or both powerA and powerB" });
    });
    if (errs.length) return { ok: false, errors: errs };
  }
  return { ok: true, value: doc };
}

/** Parses a CSV table with a header row into objects; numeric-looking cells become numbers. */
export function parseCsv(text: string): ParseResult<Array<Record<string, unknown>>> {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  const split = (line: string) => {
    const cells: string[] = [];
    let cur = "";
    let quoted = false;
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (quoted) {
        if (c === '"' && line[i + 1] === '"') {
          cur += '"';
          i++;
        } else if (c === '"') quoted = false;
        else cur += c;
      } else if (c === '"') quoted = true;
      else if (c === ",") {
        cells.push(cur);
        cur = "";
      } else cur += c;
    }
    cells.push(cur);
    return cells.map((s) => s.trim());
  };
  if (lines.length < 2)
    return { ok: false, errors: [{ path: "", message: "CSV needs a header row and at least one data row", line: 1 }] };
  const header = split(lines[0] ?? "");
  const rows: Array<Record<string, unknown>> = [];
  for (let i = 1; i < lines.length; i++) {
    const cells = split(lines[i] ?? "");
    if (cells.length !== header.length)
      return {
        ok: false,
        errors: [
          { path: `/rows/${i - 1}`, message: `has ${cells.length} cells, header has ${header.length}`, line: i + 1 },
        ],
      };
    const row: Record<string, unknown> = {};
    header.forEach((h, j) => {
      const cell = cells[j] ?? "";
      if (cell === "") return;
      row[h] = h !== "model" && /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(cell) ? Number(cell) : cell;
    });
    rows.push(row);
  }
  return { ok: true, value: rows };
}

/**
 * Parses and validates a sweep document (JSON, YAML, or CSV rows for an import).
 * Errors name the field path and, for YAML, the line. `options.name` names a CSV import.
 */
export function parseSweepDocument(
  text: string,
  contentType: string,
  options: { name?: string } = {},
): ParseResult<SweepDocument> {
  if (mediaType(contentType) === "text/csv") {
    const rows = parseCsv(text);
    if (!rows.ok) return rows;
    const doc = { kind: "import", name: options.name ?? "import", rows: rows.value };
    const v = validateSweepDocument(doc);
    if (v.ok) return v;
    // Row i sits on line i+2 (after the header).
    return {
      ok: false,
      errors: v.errors.map((e) => {
        const m = /^\/rows\/(\d+)/.exec(e.path);
        return m ? { ...e, line: Number(m[1]) + 2 } : e;
      }),
    };
  }
  const src = parseText(text, contentType);
  if (!src.ok) return src;
  const v = validateSweepDocument(src.value.value);
  return v.ok ? v : { ok: false, errors: withLines(v.errors, src.value) };
}

/** Parses and validates the body of POST /sweeps/:id/extend. */
export function parseExtendDocument(text: string, contentType: string): ParseResult<ExtendDocument> {
  const src = parseText(text, contentType);
  if (!src.ok) return src;
  const value = src.value.value;
  const errors = schemaErrors(ExtendDocumentSchema, value);
  if (!errors.length) errors.push(...semanticErrors(value as Record<string, unknown>, ""));
  if (errors.length) return { ok: false, errors: withLines(errors, src.value) };
  return { ok: true, value: value as ExtendDocument };
}

/** A trial an adaptive η search places in one (model, T, β) cell (packages/fit plans it, packages/sweep builds it). */
export interface SearchPoint {
  model: string;
  tokens: number;
  batchSize: number;
  lr: number;
  seed: number;
  /** "search:refine", "search:extend-higher", …: stored with the trial. */
  placedBy: string;
}
