// The route list: one plugin per resource, each registered here explicitly. To add a resource,
// write routes/<resource>.ts exporting a FastifyPluginAsyncTypebox whose routes declare params,
// query, body and response schemas (from @powersweep/spec/api), and add it to one list below.
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { curveRoutes } from "./curves.ts";
import { fitRoutes } from "./fits.ts";
import { healthRoutes } from "./health.ts";
import { metricsRoutes } from "./metrics.ts";
import { offlineRoutes } from "./offline.ts";
import { sweepRoutes } from "./sweeps.ts";
import { tokenRoutes } from "./tokens.ts";
import { trialRoutes } from "./trials.ts";
import { workerRoutes } from "./workers.ts";

/** Outside /v1, no token. */
export const publicRoutes: FastifyPluginAsyncTypebox[] = [healthRoutes, metricsRoutes];

/** Under /v1, bearer token required. */
export const v1Routes: FastifyPluginAsyncTypebox[] = [
  sweepRoutes,
  trialRoutes,
  workerRoutes,
  fitRoutes,
  tokenRoutes,
  curveRoutes,
  offlineRoutes,
];
