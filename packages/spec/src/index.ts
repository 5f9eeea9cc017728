export * from "./sweep.ts";
export * from "./trial.ts";
