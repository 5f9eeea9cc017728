// /v1/workers: the fleet view. A worker silent for more than WORKER_LOST_AFTER_SECONDS is "lost".
// (listWorkers is imported by path until packages/orchestrator's index.ts exports workers.ts.)

import { listWorkers } from "@powersweep/orchestrator";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";

const Nullable = <T extends ReturnType<typeof Type.String> | ReturnType<typeof Type.Number>>(t: T) =>
  Type.Union([t, Type.Null()]);

export const WorkerViewSchema = Type.Object({
  id: Type.String(),
  host: Type.String(),
  pid: Type.Integer(),
  devices: Type.Array(Type.String(), { description: 'GPU ids, or "cpu:<n>" slots' }),
  backend: Type.String({ description: "Trainer backends offered, comma-separated" }),
  version: Type.String(),
  state: Type.Union([
    Type.Literal("idle"),
    Type.Literal("busy"),
    Type.Literal("stopping"),
    Type.Literal("stopped"),
    Type.Literal("lost"),
  ]),
  currentTrialId: Nullable(Type.String()),
  tokensPerSecond: Nullable(Type.Number()),
  startedAt: Type.String({ format: "date-time" }),
  lastHeartbeatAt: Type.String({ format: "date-time" }),
  silentSeconds: Type.Number({ description: "Seconds since the last heartbeat" }),
});

export default async function workersRoutes(app: FastifyInstance, _opts: Record<string, unknown> = {}) {
  app.get(
    "/workers",
    {
      schema: {
        summary: "Worker fleet: state, current trial, tokens/s; silent workers show as lost",
        tags: ["workers"],
        querystring: Type.Object({ includeStopped: Type.Optional(Type.Boolean({ default: true })) }),
        response: { 200: Type.Object({ workers: Type.Array(WorkerViewSchema) }) },
      },
    },
    async (req) => {
      const { includeStopped = true } = req.query as { includeStopped?: boolean };
      const workers = await listWorkers(app.deps.db, {
        lostAfterSeconds: app.deps.config.workerLostAfterSeconds,
        includeStopped,
      });
      return { workers };
    },
  );
}
