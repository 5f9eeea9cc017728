export * from "./trial.ts";
