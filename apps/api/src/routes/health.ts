// Liveness and readiness; no token needed.
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { HealthSchema, ReadySchema } from "@powersweep/spec/api";
import { responses } from "../contract.ts";

const withTimeout = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error("timeout")), ms).unref())]);

export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    "/healthz",
    { schema: { summary: "The process is alive", tags: ["health"], response: responses({ 200: HealthSchema }) } },
    async () => ({ status: "ok" as const }),
  );

  app.get(
    "/readyz",
    {
      schema: {
        summary: "200 only when Postgres and Redis answer",
        tags: ["health"],
        response: responses({ 200: ReadySchema, 503: ReadySchema }),
      },
    },
    async (_req, reply) => {
      const [postgres, redis] = await Promise.all([
        withTimeout(app.deps.db.$queryRawUnsafe("SELECT 1"), 2000).then(
          () => "ok",
          (e: Error) => `unreachable: ${e.message.trim().split("\n").pop()}`,
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
