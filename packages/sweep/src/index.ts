export * from "./clamp.ts";
export * from "./expand.ts";
