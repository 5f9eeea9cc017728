// Sweep expansion: a validated sweep document → the trial configs it asks for.
// Pure: plain data in, plain data out. Axis sizes are known before anything is expanded, so a
// caller can refuse an over-cap sweep without building it (sweepSize).
import {
  DEFAULT_SEEDS,
  type ExtendDocument,
  type GridSweep,
  type ImportRowStatus,
  type ImportSweep,
  LR_SEARCH_DEFAULTS,
  type LrSearch,
  type ModelShape,
  type NumberAxis,
  SCHEDULE_DEFAULTS,
  type ScheduleSpec,
  type SearchPoint,
  type SeedsAxisValue,
  type SweepDocument,
  TRAINING_DEFAULTS,
  type TrialConfig,
} from "@powersweep/spec";
import { canonicalJson, sha256Hex, trialKey } from "./keys.ts";
import { branchStart } from "./trunks.ts";

/** Values from range helpers are rounded to this many significant digits (clean, stable keys). */
const SIGNIFICANT_DIGITS = 6;

const round = (x: number) => Number(x.toPrecision(SIGNIFICANT_DIGITS));

/** The points of a numeric axis, rounded and de-duplicated, in document order. */
export function axisValues(axis: NumberAxis, { integer = false } = {}): number[] {
  let values: number[];
  if (Array.isArray(axis)) values = (axis as number[]).slice();
  else if ("logspace" in axis) {
    const { from, to, num } = axis.logspace;
    values = Array.from({ length: num }, (_, i) => (num === 1 ? from : from * (to / from) ** (i / (num - 1))));
  } else if ("linspace" in axis) {
    const { from, to, num } = axis.linspace;
    values = Array.from({ length: num }, (_, i) => (num === 1 ? from : from + ((to - from) * i) / (num - 1)));
  } else {
    const { from, factor, count } = axis.geometric;
    values = Array.from({ length: count }, (_, i) => from * factor ** i);
  }
  const rounded = values.map((v) => (integer ? Math.round(v) : Array.isArray(axis) ? v : round(v)));
  return [...new Set(rounded)];
}

export function seedValues(axis: SeedsAxisValue | undefined): number[] {
  if (axis === undefined) return DEFAULT_SEEDS.slice();
  if (Array.isArray(axis)) return [...new Set(axis)];
  return Array.from({ length: axis.count }, (_, i) => i);
}

/** Models de-duplicated by name (first wins). */
function uniqueModels(models: ModelShape[]): ModelShape[] {
  const seen = new Map<string, ModelShape>();
  for (const m of models) if (!seen.has(m.name)) seen.set(m.name, m);
  return [...seen.values()];
}

/** The resolved axes of a grid sweep, in product order. */
export interface ResolvedAxes {
  models: ModelShape[];
  tokens: number[];
  batchSize: number[];
  /** lr-grid only. */
  lr?: number[];
  /** power-grid only. */
  powerA?: number[];
  powerB?: number[];
  seeds: number[];
}

/** An adaptive η search with its defaults filled in (`axes.lr.search`, docs/documents.md). */
export type ResolvedLrSearch = Required<LrSearch>;

/** The sweep's adaptive η search, defaults filled in; null for a sweep with an lr list or range. */
export function lrSearchOf(doc: SweepDocument): ResolvedLrSearch | null {
  if (doc.kind !== "lr-grid") return null;
  const lr = doc.axes.lr;
  if (!lr || typeof lr !== "object" || Array.isArray(lr) || !("search" in lr)) return null;
  return { ...LR_SEARCH_DEFAULTS, ...lr.search };
}

export function resolveAxes(doc: GridSweep): ResolvedAxes {
  const base = {
    models: uniqueModels(doc.axes.models),
    tokens: axisValues(doc.axes.tokens, { integer: true }),
    batchSize: axisValues(doc.axes.batchSize, { integer: true }),
    seeds: seedValues(doc.axes.seeds),
  };
  if (doc.kind === "lr-grid") {
    const search = lrSearchOf(doc);
    // An adaptive search starts from its coarse grid (packages/fit nextLrs([], …): the same log grid).
    const lr = search
      ? axisValues({ logspace: { from: search.from, to: search.to, num: search.initialPoints } })
      : axisValues(doc.axes.lr as NumberAxis);
    return { ...base, lr };
  }
  return { ...base, powerA: axisValues(doc.axes.powerA), powerB: axisValues(doc.axes.powerB as NumberAxis) };
}

export interface SweepSize {
  /** Trials the document asks for now (an adaptive η search: its coarse grid). */
  trials: number;
  /** An adaptive η search: the most trials the sweep may reach in all (maxTrials per (model, T, β)). */
  searchMaxTrials?: number;
  /** Axis sizes in product order, e.g. { models: 3, tokens: 8, … }. */
  axes: Record<string, number>;
  /** "3 models × 8 tokens × 6 batchSize × 12 lr × 2 seeds = 3456 trials". */
  description: string;
}

/** Number of trials a document asks for, from its axis sizes alone (nothing is expanded). */
export function sweepSize(doc: SweepDocument): SweepSize {
  if (doc.kind === "import") {
    return { trials: doc.rows.length, axes: { rows: doc.rows.length }, description: `${doc.rows.length} rows` };
  }
  const a = resolveAxes(doc);
  const axes: Record<string, number> =
    doc.kind === "lr-grid"
      ? {
          models: a.models.length,
          tokens: a.tokens.length,
          batchSize: a.batchSize.length,
          lr: a.lr?.length ?? 0,
          seeds: a.seeds.length,
        }
      : {
          models: a.models.length,
          powerA: a.powerA?.length ?? 0,
          powerB: a.powerB?.length ?? 0,
          tokens: a.tokens.length,
          batchSize: a.batchSize.length,
          seeds: a.seeds.length,
        };
  const trials = Object.values(axes).reduce((p, n) => p * n, 1);
  const description = `${Object.entries(axes)
    .map(([k, n]) => `${n} ${k}`)
    .join(" × ")} = ${trials} trials`;
  const search = lrSearchOf(doc);
  if (!search) return { trials, axes, description };
  // Every (model, T, β) cell runs at most maxTrials trials (each seed of a learning rate counts).
  const cells = a.models.length * a.tokens.length * a.batchSize.length;
  const searchMaxTrials = cells * Math.max(search.maxTrials, (a.lr?.length ?? 0) * a.seeds.length);
  return {
    trials,
    axes,
    searchMaxTrials,
    description: `${description} (coarse grid of an η search; the search adds more, at most ${search.maxTrials} per (model, T, β): ${searchMaxTrials} in all)`,
  };
}

/** One expanded trial: its full config plus the denormalised columns the Trial row carries. */
export interface ExpandedTrial {
  key: string;
  config: TrialConfig;
  model: string;
  dModel: number;
  tokens: number;
  batchSize: number;
  lr: number | null;
  powerA: number | null;
  powerB: number | null;
  seed: number;
  /**
   * Shared trunks (trunks.ts): the key of the trial this one branches from (the longest trial of its
   * trunk group, which saves a checkpoint at branchStep), or null when it trains from scratch.
   */
  branchFrom: string | null;
  /** Steps taken from that trial's checkpoint: the branch trains the rest. */
  branchStep: number | null;
  /**
   * The step that placed the trial: absent (null) for a grid point; "search:coarse",
   * "search:refine", "search:extend-higher", … for an adaptive η search (packages/fit lrSearch.ts).
   */
  placedBy?: string | null;
}

function fixedSettings(doc: GridSweep) {
  const t = doc.training ?? {};
  return {
    seqLen: t.seqLen ?? TRAINING_DEFAULTS.seqLen,
    corpus: t.corpus ?? TRAINING_DEFAULTS.corpus,
    tokenizer: t.tokenizer ?? TRAINING_DEFAULTS.tokenizer,
    mup: { ...TRAINING_DEFAULTS.mup, ...t.mup },
    optimizer: { ...TRAINING_DEFAULTS.optimizer, ...t.optimizer },
    evalTokens: t.evalTokens ?? TRAINING_DEFAULTS.evalTokens,
  };
}

function lrSchedule(doc: GridSweep & { kind: "lr-grid" }, lr: number): ScheduleSpec {
  const s = { ...SCHEDULE_DEFAULTS, ...doc.schedule };
  if (s.type === "constant") return { type: "constant", lr, warmupTokens: s.warmupTokens };
  if (s.type === "cosine") return { type: "cosine", lr, warmupTokens: s.warmupTokens, minLrRatio: s.minLrRatio };
  // eq. 2: warmup, stable at η, then decay over the last decayFraction of T.
  return { type: "wsd", lr, warmupTokens: s.warmupTokens, decayFraction: s.decayFraction, decayShape: s.decayShape };
}

function powerSchedule(doc: GridSweep & { kind: "power-grid" }, powerA: number, powerB: number): ScheduleSpec {
  const s = doc.schedule;
  // eq. 8: warmup, η = min(η_max, β·a·n^b) (eq. 7), exponential decay over the last decayFraction.
  return {
    type: "power",
    powerA,
    powerB,
    etaMax: s.etaMax,
    warmupTokens: s.warmupTokens ?? SCHEDULE_DEFAULTS.warmupTokens,
    decayFraction: s.decayFraction ?? SCHEDULE_DEFAULTS.decayFraction,
    decayShape: s.decayShape ?? SCHEDULE_DEFAULTS.decayShape,
  };
}

/**
 * Every trial of a grid sweep, in product order (models outermost, seeds innermost); identical
 * configs (same key) are yielded once.
 */
export function* expandSweep(doc: GridSweep): Generator<ExpandedTrial> {
  const a = resolveAxes(doc);
  const fixed = fixedSettings(doc);
  const seen = new Set<string>();
  const lrOrPower: Array<{ lr: number | null; powerA: number | null; powerB: number | null }> =
    doc.kind === "lr-grid"
      ? (a.lr ?? []).map((lr) => ({ lr, powerA: null, powerB: null }))
      : (a.powerA ?? []).flatMap((powerA) => (a.powerB ?? []).map((powerB) => ({ lr: null, powerA, powerB })));
  // The canonical JSON of a config, built from pre-rendered parts: the fixed settings are the same
  // for every trial, so only the varying fields are rendered per trial (equal to canonicalJson(config)).
  const fixedParts = {
    corpus: canonicalJson(fixed.corpus),
    evalTokens: canonicalJson(fixed.evalTokens),
    mup: canonicalJson(fixed.mup),
    optimizer: canonicalJson(fixed.optimizer),
    seqLen: canonicalJson(fixed.seqLen),
    tokenizer: canonicalJson(fixed.tokenizer),
  };
  // The longest trial of each trunk group (same config but T) hosts the trunk; see trunks.ts.
  const share = doc.share ?? "trunks";
  const placed = lrSearchOf(doc) ? { placedBy: "search:coarse" } : {};
  const hostTokens = Math.max(...a.tokens);
  for (const model of a.models) {
    const modelJson = canonicalJson(model);
    // lr-grid order: models × tokens × batchSize × lr × seeds; power-grid: models × (a × b) × tokens × batchSize × seeds.
    const outer = doc.kind === "lr-grid" ? [null] : lrOrPower;
    const inner = doc.kind === "lr-grid" ? lrOrPower : [null];
    for (const o of outer)
      for (const tokens of a.tokens)
        for (const batchSize of a.batchSize)
          for (const i of inner) {
            const p = (o ?? i) as (typeof lrOrPower)[number];
            const schedule =
              doc.kind === "lr-grid"
                ? lrSchedule(doc, p.lr as number)
                : powerSchedule(doc, p.powerA as number, p.powerB as number);
            const scheduleJson = canonicalJson(schedule);
            for (const seed of a.seeds) {
              const config: TrialConfig = {
                model,
                mup: fixed.mup,
                schedule,
                tokens,
                batchSize,
                seqLen: fixed.seqLen,
                corpus: fixed.corpus,
                tokenizer: fixed.tokenizer,
                optimizer: fixed.optimizer,
                evalTokens: fixed.evalTokens,
                seed,
              };
              // Keys in sorted order, as canonicalJson writes them.
              const keyAt = (t: number) =>
                sha256Hex(
                  `{"batchSize":${batchSize},"corpus":${fixedParts.corpus},"evalTokens":${fixedParts.evalTokens},"model":${modelJson},"mup":${fixedParts.mup},"optimizer":${fixedParts.optimizer},"schedule":${scheduleJson},"seed":${seed},"seqLen":${fixedParts.seqLen},"tokenizer":${fixedParts.tokenizer},"tokens":${canonicalJson(t)}}`,
                );
              const key = keyAt(tokens);
              if (seen.has(key)) continue;
              seen.add(key);
              const branchStep = share === "trunks" ? branchStart(config, hostTokens) : null;
              const branchFrom = branchStep === null ? null : keyAt(hostTokens);
              yield {
                key,
                config,
                model: model.name,
                dModel: model.dModel,
                tokens,
                batchSize,
                ...p,
                seed,
                branchFrom,
                branchStep,
                ...placed,
              };
            }
          }
  }
}

/**
 * The trials of search-placed points of an lr-grid sweep, configured as its grid trials are
 * (learning rates rounded as range helpers round them). They train from scratch: a searched η
 * rarely shares a trunk with another trial. Points of unknown models are skipped.
 */
export function searchTrials(doc: GridSweep, points: SearchPoint[]): ExpandedTrial[] {
  if (doc.kind !== "lr-grid") return [];
  const models = new Map(uniqueModels(doc.axes.models).map((m) => [m.name, m]));
  const out: ExpandedTrial[] = [];
  for (const p of points) {
    const model = models.get(p.model);
    if (!model) continue;
    const one: GridSweep = {
      ...doc,
      share: "none",
      axes: { models: [model], tokens: [p.tokens], batchSize: [p.batchSize], lr: [round(p.lr)], seeds: [p.seed] },
    };
    for (const t of expandSweep(one)) out.push({ ...t, placedBy: p.placedBy });
  }
  return out;
}

/** Expands in chunks, yielding to the event loop between chunks (large sweeps stay responsive). */
export async function* expandSweepInChunks(doc: GridSweep, chunk = 2000): AsyncGenerator<ExpandedTrial[]> {
  let batch: ExpandedTrial[] = [];
  for (const t of expandSweep(doc)) {
    batch.push(t);
    if (batch.length >= chunk) {
      yield batch;
      batch = [];
      await new Promise((r) => setImmediate(r));
    }
  }
  if (batch.length) yield batch;
}

/** An imported result row as a finished trial. */
export interface ImportedTrial
  extends Omit<ExpandedTrial, "config" | "dModel" | "branchFrom" | "branchStep" | "placedBy"> {
  dModel: number | null;
  config: Record<string, unknown>;
  trainLoss: number | null;
  /** null for a diverged or failed row that reports no loss. */
  testLoss: number | null;
  testPerplexity: number | null;
  /** The row's outcome (default succeeded). */
  status: ImportRowStatus;
}

/** Rows of an import document as finished trials with the row's status; identical rows collapse. */
export function importedTrials(doc: ImportSweep): ImportedTrial[] {
  const seen = new Set<string>();
  const out: ImportedTrial[] = [];
  for (const r of doc.rows) {
    // Perplexity is exp(mean loss per token); either one gives the other.
    const testLoss = r.testLoss ?? (r.testPerplexity !== undefined ? Math.log(r.testPerplexity) : null);
    const testPerplexity = r.testPerplexity ?? (testLoss !== null ? Math.exp(testLoss) : null);
    const config = { imported: true, ...r };
    const key = trialKey(config);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({
      key,
      config,
      model: r.model,
      dModel: r.dModel ?? null,
      tokens: r.tokens,
      batchSize: r.batchSize,
      lr: r.lr ?? null,
      powerA: r.powerA ?? null,
      powerB: r.powerB ?? null,
      seed: r.seed ?? 0,
      trainLoss: r.trainLoss ?? null,
      testLoss,
      testPerplexity,
      status: r.status ?? "succeeded",
    });
  }
  return out;
}

export class ExtendError extends Error {
  override name = "ExtendError";
  constructor(
    public readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The sweep document with extra axis values merged in (each axis becomes the explicit union of
 * its old and new points). Expanding the result and keeping unseen keys gives the new trials.
 */
export function extendSweep(doc: GridSweep, ext: ExtendDocument): GridSweep {
  const a = resolveAxes(doc);
  const allowed =
    doc.kind === "lr-grid"
      ? ["models", "tokens", "batchSize", "lr", "seeds"]
      : ["models", "powerA", "powerB", "tokens", "batchSize", "seeds"];
  for (const k of Object.keys(ext))
    if (!allowed.includes(k)) throw new ExtendError(`/${k}`, `a ${doc.kind} sweep has no ${k} axis`);
  const union = (old: number[], add: NumberAxis | undefined, integer = false) =>
    add === undefined ? old : [...new Set([...old, ...axisValues(add, { integer })])];
  const models = [...a.models];
  (ext.models ?? []).forEach((m, i) => {
    const existing = models.find((x) => x.name === m.name);
    if (!existing) models.push(m);
    else if (canonicalJson(existing) !== canonicalJson(m))
      throw new ExtendError(`/models/${i}/name`, `model "${m.name}" already exists with a different shape`);
  });
  const axes = {
    models,
    tokens: union(a.tokens, ext.tokens, true),
    batchSize: union(a.batchSize, ext.batchSize, true),
    seeds: ext.seeds === undefined ? a.seeds : [...new Set([...a.seeds, ...seedValues(ext.seeds)])],
  };
  if (doc.kind === "lr-grid") {
    if (lrSearchOf(doc)) {
      // A searched axis stays a search: new models, T, β or seeds get its coarse grid.
      if (ext.lr !== undefined) throw new ExtendError("/lr", "the lr axis is searched (lr.search): extend other axes");
      return { ...doc, axes: { ...axes, lr: doc.axes.lr } };
    }
    return { ...doc, axes: { ...axes, lr: union(a.lr ?? [], ext.lr) } };
  }
  return {
    ...doc,
    axes: {
      ...axes,
      powerA: union(a.powerA ?? [], ext.powerA),
      powerB: union(a.powerB ?? [], ext.powerB as NumberAxis | undefined),
    },
  };
}
