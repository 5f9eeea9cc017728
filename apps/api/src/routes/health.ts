// Liveness and readiness; no token needed.
import type { FastifyPluginAsync } from "fastify";

const withTimeout = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error("timeout")), ms).unref())]);

export const healthRoutes: FastifyPluginAsync = async (app) => {
  app.get("/healthz", { schema: { summary: "The process is alive", tags: ["health"] } }, async () => ({
    status: "ok",
  }));

  app.get(
    "/readyz",
    { schema: { summary: "200 only when Postgres and Redis answer", tags: ["health"] } },
    async (_req, reply) => {
      const [postgres, redis] = await Promise.all([
        withTimeout(app.deps.db.$queryRawUnsafe("SELECT 1"), 2000).then(
          () => "ok",
          (e: Error) => `unreachable: ${e.message.split("\n")[0]}`,
        ),
        withTimeout(app.deps.redis.ping(), 2000).then(
          () => "ok",
          (e: Error) => `unreachable: ${e.message}`,
        ),
      ]);
      const ready = postgres === "ok" && redis === "ok";
      return reply.code(ready ? 200 : 503).send({ status: ready ? "ready" : "unavailable", postgres, redis });
    },
  );
};
