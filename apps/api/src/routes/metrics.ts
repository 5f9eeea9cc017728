// Prometheus metrics: queue depths, trials by status, request latencies. One registry per server.
// A scrape never scans the trial table: the counts are cached and refreshed at most every
// METRICS_REFRESH_MS, whatever the scrape rate, and METRICS_TOKEN (when set) guards the route.
import { timingSafeEqual } from "node:crypto";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { byMediaType, responses } from "../contract.ts";
import { problem } from "../problem.ts";

/** The trial counts and queue depths a scrape reports are at most this old. */
export const METRICS_REFRESH_MS = 5_000;

/** `load` runs at most once per `ms`; concurrent callers share one run; a failure is not cached. */
export function cachedFor<T>(ms: number, load: () => Promise<T>): () => Promise<T> {
  let at = -Infinity;
  let value: Promise<T> | null = null;
  return () => {
    const now = Date.now();
    if (!value || now - at > ms) {
      at = now;
      value = load().catch((err) => {
        value = null;
        throw err;
      });
    }
    return value;
  };
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export const metricsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "powersweep_api_" });
  const { db, trialQueue } = app.deps;
  const queueCounts = cachedFor(METRICS_REFRESH_MS, () =>
    trialQueue.getJobCounts("waiting", "prioritized", "active", "delayed", "failed", "completed"),
  );
  const trialCounts = cachedFor(METRICS_REFRESH_MS, () => db.trial.groupBy({ by: ["status"], _count: { _all: true } }));

  new Gauge({
    name: "powersweep_queue_jobs",
    help: "Trial jobs in the BullMQ queue, by state.",
    labelNames: ["queue", "state"],
    registers: [registry],
    async collect() {
      const counts = await queueCounts();
      for (const [state, n] of Object.entries(counts)) this.set({ queue: "trials", state }, n);
    },
  });
  new Gauge({
    name: "powersweep_trials",
    help: "Trials in Postgres, by status.",
    labelNames: ["status"],
    registers: [registry],
    async collect() {
      const rows = await trialCounts();
      this.reset();
      for (const r of rows) this.set({ status: r.status }, r._count._all);
    },
  });
  const latency = new Histogram({
    name: "powersweep_http_request_duration_seconds",
    help: "HTTP request latency.",
    labelNames: ["method", "route", "status"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
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
