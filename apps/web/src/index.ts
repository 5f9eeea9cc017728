// Library entry (the dashboard itself is src/main.ts, bundled by build.mjs): the data layer and page renderers.
export * from "./api.ts";
export * from "./views.ts";
