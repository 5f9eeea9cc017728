export * from "./fits.ts";
export * from "./jobs.ts";
export * from "./reconcile.ts";
export * from "./results.ts";
export * from "./retry.ts";
export * from "./sweeps.ts";
export * from "./tokens.ts";
export * from "./workers.ts";
