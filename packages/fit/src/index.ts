export * from "./batchSize.ts";
export * from "./csv.ts";
export * from "./etaOpt.ts";
export * from "./fitSweep.ts";
export * from "./gamma.ts";
export * from "./lossCurve/index.ts";
export * from "./powerLaw.ts";
export * from "./powerSweep.ts";
export { mulberry32, normal, quantileSorted } from "./rng.ts";
