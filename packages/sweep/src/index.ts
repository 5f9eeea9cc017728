export * from "./clamp.ts";
export * from "./expand.ts";
export * from "./trunks.ts";
