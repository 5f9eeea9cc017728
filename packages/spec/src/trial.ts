// The trial config: the one self-contained document a trainer receives. Sweep expansion
// (packages/sweep) produces it, the worker passes it to packages/trainer, the exec backend
// sends it as JSON on stdin. Defined once here; TypeScript types derive from the schemas.
import { type Static, Type } from "@sinclair/typebox";
import { MAX_INT32, SafeText } from "./bounds.ts";

export const DecayShapeSchema = Type.Union(
  [Type.Literal("exponential"), Type.Literal("linear"), Type.Literal("cosine"), Type.Literal("one-minus-sqrt")],
  { description: "Shape of the final decay to 0 (Hägele et al. 2405.18392 cooldown shapes)." },
);
export type DecayShape = Static<typeof DecayShapeSchema>;

const positive = (description: string) => Type.Number({ exclusiveMinimum: 0, description });
const nonNegative = (description: string) => Type.Number({ minimum: 0, description });

const warmupAndDecay = {
  warmupTokens: nonNegative("Linear warmup length, in tokens."),
  decayFraction: Type.Number({
    minimum: 0,
    maximum: 1,
    description: "Fraction of the total tokens spent in the final decay (WSD and Power; paper: 0.1).",
  }),
  decayShape: DecayShapeSchema,
};

/** Learning-rate schedules, as functions of tokens seen (packages/schedules implements them). */
export const ScheduleSpecSchema = Type.Union([
  Type.Object(
    {
      type: Type.Literal("constant"),
      lr: positive("Peak learning rate η."),
      warmupTokens: warmupAndDecay.warmupTokens,
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      type: Type.Literal("cosine"),
      lr: positive("Peak learning rate η."),
      warmupTokens: warmupAndDecay.warmupTokens,
      minLrRatio: Type.Number({ minimum: 0, maximum: 1, description: "Final lr as a fraction of η (default 0)." }),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    { type: Type.Literal("wsd"), lr: positive("Peak learning rate η (eq. 2)."), ...warmupAndDecay },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      type: Type.Literal("power"),
      powerA: positive("a in η_power(n) = min(η_max, β·a·n^b) (eq. 7)."),
      powerB: Type.Number({ exclusiveMaximum: 0, minimum: -2, description: "b (negative) in eq. 7." }),
      etaMax: positive("η_max clamp of eq. 7."),
      ...warmupAndDecay,
    },
    { additionalProperties: false },
  ),
]);
export type ScheduleSpec = Static<typeof ScheduleSpecSchema>;

/** μP proxy model shape (Table 2 of 2408.13359). m_width = dModel / baseWidth. */
export const ModelShapeSchema = Type.Object(
  {
    name: SafeText({ minLength: 1, maxLength: 64, description: "Label, e.g. 'd64-L2'." }),
    dModel: Type.Integer({ minimum: 8, maximum: 16384 }),
    nLayers: Type.Integer({ minimum: 1, maximum: 256 }),
    nHeads: Type.Integer({ minimum: 1, maximum: 256 }),
    dHead: Type.Integer({ minimum: 4, maximum: 1024 }),
    mlpHidden: Type.Integer({ minimum: 8, maximum: 65536, description: "SwiGLU hidden width." }),
    baseWidth: Type.Integer({ minimum: 8, maximum: 16384, description: "d_base; m_width = dModel / baseWidth." }),
  },
  { additionalProperties: false },
);
export type ModelShape = Static<typeof ModelShapeSchema>;

/** μP multipliers, named after Table 1 of 2408.13359. */
export const MupSchema = Type.Object(
  {
    embMultiplier: positive("m_emb: the embedding output is multiplied by it."),
    residualMultiplier: positive("m_res: each attention/MLP output is multiplied by it before the residual add."),
    initStd: positive("Base init std; hidden matrices use initStd/√m_width."),
  },
  { additionalProperties: false },
);
export type Mup = Static<typeof MupSchema>;

export const CorpusSchema = Type.Union([
  Type.Object(
    { type: Type.Literal("sotu") },
    { additionalProperties: false, description: "US State of the Union addresses (default)." },
  ),
  Type.Object(
    {
      type: Type.Literal("text-files"),
      paths: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
      testFraction: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 }),
    },
    { additionalProperties: false, description: "The user's own text files; whole files are held out." },
  ),
  Type.Object(
    {
      type: Type.Literal("token-file"),
      trainPath: Type.String({ minLength: 1 }),
      testPath: Type.String({ minLength: 1 }),
      dtype: Type.Union([Type.Literal("uint16"), Type.Literal("uint32")]),
      vocabSize: Type.Integer({ minimum: 2 }),
    },
    { additionalProperties: false, description: "Pre-tokenised binary files of token ids." },
  ),
]);
export type Corpus = Static<typeof CorpusSchema>;

export const TokenizerSchema = Type.Union([
  Type.Object({ type: Type.Literal("byte") }, { additionalProperties: false }),
  Type.Object(
    { type: Type.Literal("gpt2-topk"), topK: Type.Integer({ minimum: 257, maximum: 50257 }) },
    { additionalProperties: false },
  ),
]);
export type Tokenizer = Static<typeof TokenizerSchema>;

export const OptimizerSchema = Type.Object(
  {
    beta1: Type.Number({ minimum: 0, exclusiveMaximum: 1 }),
    beta2: Type.Number({ minimum: 0, exclusiveMaximum: 1 }),
    eps: positive("AdamW epsilon."),
    weightDecay: nonNegative("Decoupled weight decay, applied to hidden matrices only."),
  },
  { additionalProperties: false },
);
export type Optimizer = Static<typeof OptimizerSchema>;

export const TrialConfigSchema = Type.Object(
  {
    model: ModelShapeSchema,
    mup: MupSchema,
    schedule: ScheduleSpecSchema,
    tokens: positive("T: total training tokens."),
    batchSize: Type.Integer({ minimum: 1, maximum: MAX_INT32, description: "β: sequences per step." }),
    seqLen: Type.Integer({ minimum: 2, maximum: 65536 }),
    corpus: CorpusSchema,
    tokenizer: TokenizerSchema,
    optimizer: OptimizerSchema,
    evalTokens: Type.Integer({ minimum: 1, description: "Held-out tokens the test loss is measured on." }),
    seed: Type.Integer({ minimum: 0, maximum: MAX_INT32 }),
  },
  { additionalProperties: false },
);
export type TrialConfig = Static<typeof TrialConfigSchema>;
