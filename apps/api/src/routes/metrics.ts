// GET /metrics (Prometheus): the process's registry (metrics.ts), behind METRICS_TOKEN when the
// deployment sets one. A scrape reads counters and the last background snapshot of the gauges: it
// never queries Postgres itself, whatever the scrape rate.
import { timingSafeEqual } from "node:crypto";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { byMediaType, responses } from "../contract.ts";
import { problem } from "../problem.ts";

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export const metricsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { registry, latency } = app.metrics;
  // Root-level hook (this plugin is registered with fastify-plugin semantics via skip-override).
  app.addHook("onResponse", async (req, reply) => {
    latency.observe(
      { method: req.method, route: req.routeOptions.url ?? "unmatched", status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  const token = app.deps.config.metricsToken;
  app.get(
    "/metrics",
    {
      schema: {
        summary: "Prometheus metrics (Authorization: Bearer METRICS_TOKEN when the deployment sets one)",
        tags: ["health"],
        response: responses({ 200: byMediaType({ "text/plain": Type.String() }) }),
      },
    },
    async (req, reply) => {
      if (token) {
        const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "");
        if (!m?.[1] || !sameSecret(m[1], token))
          throw problem(401, "unauthorized", "Unauthorized", "/metrics needs Authorization: Bearer <METRICS_TOKEN>");
      }
      return reply.type(registry.contentType).send(await registry.metrics());
    },
  );
};
// Let the onResponse hook see every route, not only this plugin's.
(metricsRoutes as unknown as Record<symbol, boolean>)[Symbol.for("skip-override")] = true;
