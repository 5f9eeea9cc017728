export * from "./curves.ts";
export * from "./limits.ts";
export * from "./offline.ts";
export * from "./reconcile.ts";
export * from "./results.ts";
export * from "./sweeps.ts";
export * from "./tokens.ts";
export * from "./workers.ts";
