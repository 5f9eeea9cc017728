export * from "./config.ts";
export * from "./services.ts";
export * from "./threads.ts";
