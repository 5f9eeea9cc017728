export { type AdamW, createAdamW, lossAndGradients, maskedLossSum, trainStep } from "./adamw.ts";
export { type AttentionShape, attentionJs, attentionOps, causalAttention } from "./attention.ts";
export { type BackendName, initBackend } from "./backend.ts";
export { gradientWorkerState, setGradientWorker, shardCount } from "./data-parallel.ts";
export {
  type ActivationRecorder,
  createGPT,
  type GPT,
  type GPTConfig,
  type Parametrization,
  type ParamGroup,
  validateGPTConfig,
  widthMultiplier,
} from "./gpt.ts";
export {
  embeddingLookup,
  isJsBackend,
  matMul,
  meanCrossEntropy,
  oneHotFloat,
  rmsNorm,
  tokenCrossEntropy,
} from "./ops.ts";
