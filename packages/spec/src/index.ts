export * from "./bounds.ts";
export * from "./status.ts";
export * from "./sweep.ts";
export * from "./trial.ts";
