// The route list: one plugin per resource. To add a resource, add a line here; optional files that
// other engineers add later (workers.ts, fits.ts) are registered when they exist.
import type { FastifyPluginAsync } from "fastify";
import { healthRoutes } from "./health.ts";
import { metricsRoutes } from "./metrics.ts";
import { sweepRoutes } from "./sweeps.ts";
import { trialRoutes } from "./trials.ts";

/** Outside /v1, no token. */
export const publicRoutes: FastifyPluginAsync[] = [healthRoutes, metricsRoutes];

/** Under /v1, bearer token required. */
export const v1Routes: FastifyPluginAsync[] = [sweepRoutes, trialRoutes];

/** Route files registered under /v1 when present (their default export, or first exported plugin). */
export const optionalV1Routes = ["./workers.ts", "./fits.ts", "./offline.ts"];
