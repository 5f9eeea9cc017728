export * from "./clamp.ts";
export * from "./expand.ts";
export * from "./keys.ts";
export * from "./trunks.ts";
