// Loss-curve model: predict any schedule's loss curve from a few runs (Tissue et al. 2408.11029,
// Luo et al. 2503.12811).
export { type LrTrace, lrDecrements, lrTrace, type RunShape } from "./areas.ts";
export {
  CURVE_LAWS,
  type CurveLawName,
  type CurvePoint,
  fitLossCurve,
  LAW_PARAMS,
  type LossCurveFit,
  type LossCurveFitOptions,
  lawLoss,
  MULTI_POWER_PRIORS,
  type ObservedCurve,
  prepareRun,
} from "./fit.ts";
export { levenbergMarquardt, robustLeastSquares } from "./lm.ts";
export { lossDropSum, type MultiPowerParams, multiPowerLoss } from "./multiPower.ts";
export * from "./predict.ts";
export { annealingArea, TISSUE_LAMBDA, type TissueParams, tissueLoss } from "./tissue.ts";
