// Prometheus metrics: queue depths, trials by status, request latencies. One registry per server.
import type { FastifyPluginAsync } from "fastify";
import { collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export const metricsRoutes: FastifyPluginAsync = async (app) => {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "powersweep_api_" });
  const { db, trialQueue } = app.deps;

  new Gauge({
    name: "powersweep_queue_jobs",
    help: "Trial jobs in the BullMQ queue, by state.",
    labelNames: ["queue", "state"],
    registers: [registry],
    async collect() {
      const counts = await trialQueue.getJobCounts(
        "waiting",
        "prioritized",
        "active",
        "delayed",
        "failed",
        "completed",
      );
      for (const [state, n] of Object.entries(counts)) this.set({ queue: "trials", state }, n);
    },
  });
  new Gauge({
    name: "powersweep_trials",
    help: "Trials in Postgres, by status.",
    labelNames: ["status"],
    registers: [registry],
    async collect() {
      this.reset();
      const rows = await db.trial.groupBy({ by: ["status"], _count: { _all: true } });
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

  app.get("/metrics", { schema: { summary: "Prometheus metrics", tags: ["health"] } }, async (_req, reply) => {
    return reply.type(registry.contentType).send(await registry.metrics());
  });
};
// Let the onResponse hook see every route, not only this plugin's.
(metricsRoutes as unknown as Record<symbol, boolean>)[Symbol.for("skip-override")] = true;
