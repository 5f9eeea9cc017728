// The Fastify server: plugins per resource, problem+json errors, OpenAPI at /docs, the dashboard
// at / when apps/web/dist exists.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import fastifyStatic from "@fastify/static";
import fastifySwagger from "@fastify/swagger";
import fastifySwaggerUi from "@fastify/swagger-ui";
import { createSqlPool } from "@powersweep/db";
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from "fastify";
import { authHook } from "./auth.ts";
import type { ApiDeps } from "./deps.ts";
import { errorHandler } from "./problem.ts";
import { optionalV1Routes, publicRoutes, v1Routes } from "./routes/index.ts";
import { createValidatorCompiler } from "./validator.ts";

const here = dirname(fileURLToPath(import.meta.url));
export const WEB_DIST = join(here, "..", "..", "web", "dist");

/** Media types the API reads; bodies arrive as text and are parsed by the handler's validator. */
const TEXT_TYPES = ["application/json", "application/yaml", "text/yaml", "application/x-yaml", "text/csv"];

export function authEnabled(deps: ApiDeps): boolean {
  return deps.auth ?? process.env.POWERSWEEP_AUTH !== "off";
}

async function loadOptional(path: string): Promise<FastifyPluginAsync | null> {
  const file = join(here, "routes", path);
  if (!existsSync(file)) return null;
  const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  const plugin = mod.default ?? Object.values(mod).find((v) => typeof v === "function");
  return (plugin as FastifyPluginAsync | undefined) ?? null;
}

/** Connections of the pool that inserts an accepted sweep's trials (chunks inserted in parallel). */
export const ACCEPT_SQL_CONNECTIONS = 2;

/** Connections of the pool that serves the hot reads (GET /v1/sweeps/:id). */
export const READ_SQL_CONNECTIONS = 4;

export function buildServer(input: ApiDeps): FastifyInstance {
  // Accept inserts commit asynchronously: the accept's final commit (synchronous, on Prisma) makes
  // them durable, and until then the sweep is `creating` (see createSweep). The pools connect lazily.
  const ownSql = input.sql
    ? null
    : createSqlPool({ url: input.config.databaseUrl, max: ACCEPT_SQL_CONNECTIONS, asyncCommit: true });
  // Reads get their own connections, so they never wait behind an accept's bulk inserts.
  const ownReads = input.reads ? null : createSqlPool({ url: input.config.databaseUrl, max: READ_SQL_CONNECTIONS });
  const deps: ApiDeps = {
    ...input,
    ...(ownSql ? { sql: ownSql } : {}),
    ...(ownReads ? { reads: ownReads } : {}),
  };
  const app = Fastify({
    logger: deps.logger ?? false,
    // A line per request floods the console (the dashboard polls); LOG_LEVEL=debug brings them back.
    disableRequestLogging: deps.config.logLevel !== "debug" && deps.config.logLevel !== "trace",
    bodyLimit: deps.bodyLimit ?? 10 * 1024 * 1024,
    ajv: { customOptions: { strict: false } },
  });
  app.decorate("deps", deps);
  if (ownSql) app.addHook("onClose", async () => ownSql.end());
  if (ownReads) app.addHook("onClose", async () => ownReads.end());
  app.setValidatorCompiler(createValidatorCompiler());
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((req, reply) =>
    reply
      .code(404)
      .type("application/problem+json")
      .send({
        type: "https://powersweep.dev/problems/not-found",
        title: "Not found",
        status: 404,
        detail: `no route ${req.method} ${req.url.split("?")[0]}`,
      }),
  );

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(TEXT_TYPES, { parseAs: "string" }, (_req, body, done) => done(null, body));

  app.register(fastifySwagger, {
    openapi: {
      info: { title: "powersweep API", version: "0.1.0", description: "LR/batch-size scaling-law sweeps." },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
      security: [{ bearer: [] }],
    },
  });
  app.register(fastifySwaggerUi, { routePrefix: "/docs" });

  for (const plugin of publicRoutes) app.register(plugin);

  app.register(
    async (v1) => {
      if (authEnabled(deps))
        v1.addHook("onRequest", authHook({ failuresPerMinute: deps.config.authFailuresPerMinute }));
      for (const plugin of v1Routes) await v1.register(plugin);
      for (const path of optionalV1Routes) {
        const plugin = await loadOptional(path);
        if (plugin) await v1.register(plugin);
      }
    },
    { prefix: "/v1" },
  );

  if (existsSync(WEB_DIST)) app.register(fastifyStatic, { root: WEB_DIST, prefix: "/" });
  return app;
}
