export * from "./expand.ts";
export * from "./trunks.ts";
