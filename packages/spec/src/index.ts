export * from "./sweep.ts";
export * from "./status.ts";
export * from "./trial.ts";
