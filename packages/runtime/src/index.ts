export * from "./config.ts";
export * from "./services.ts";
