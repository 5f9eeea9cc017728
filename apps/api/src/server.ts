// The Fastify server: plugins per resource, problem+json errors, OpenAPI at /docs, the dashboard
// at / when apps/web/dist exists.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import fastifyHelmet from "@fastify/helmet";
import fastifyStatic from "@fastify/static";
import fastifySwagger from "@fastify/swagger";
import fastifySwaggerUi from "@fastify/swagger-ui";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { createSqlPool } from "@powersweep/db";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions, LogController } from "fastify";
import { authHook } from "./auth.ts";
import type { ApiDeps } from "./deps.ts";
import { createApiMetrics } from "./metrics.ts";
import { DependencyDownError, errorHandler } from "./problem.ts";
import { publicRoutes, v1Routes } from "./routes/index.ts";
import { createStrictSerializerCompiler, createValidatorCompiler } from "./validator.ts";

const here = dirname(fileURLToPath(import.meta.url));
export const WEB_DIST = join(here, "..", "..", "web", "dist");

/** Media types the API reads; bodies arrive as text and are parsed by the handler's validator. */
const TEXT_TYPES = ["application/json", "application/yaml", "text/yaml", "application/x-yaml", "text/csv"];

export function authEnabled(deps: ApiDeps): boolean {
  return deps.auth ?? process.env.POWERSWEEP_AUTH !== "off";
}

/** A URL as logged: the values of credential-looking query parameters replaced (never logged). */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:token|access_token|api_key|apikey|key|secret)=)[^&#]*/gi, "$1[redacted]");
}

/** The request log line: method, redacted URL, client address; never headers (Authorization). */
const logSerializers = {
  req: (req: { method: string; url: string; ip?: string; id?: string }) => ({
    method: req.method,
    url: redactUrl(req.url),
    remoteAddress: req.ip,
  }),
};

function loggerOptions(logger: ApiDeps["logger"]): FastifyServerOptions["logger"] {
  if (!logger) return false;
  if (logger === true) return { serializers: logSerializers };
  if (typeof logger === "object" && !("info" in logger)) {
    return { ...logger, serializers: { ...logSerializers, ...(logger.serializers ?? {}) } };
  }
  return logger;
}

/**
 * Security headers on every response. The dashboard is one same-origin script and stylesheet,
 * so the CSP allows only 'self' (inline styles for the SVG charts and the Swagger UI).
 */
export const CONTENT_SECURITY_POLICY = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", "data:"],
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

/** Connections of the pool that inserts an accepted sweep's trials (chunks inserted in parallel). */
export const ACCEPT_SQL_CONNECTIONS = 2;

/** Connections of the pool that serves the hot reads (GET /v1/sweeps/:id). */
export const READ_SQL_CONNECTIONS = 4;

/** How long a request waits for a (re)connecting Redis before it is refused. */
export const REDIS_WAIT_MS = 2_000;

async function redisReady(redis: ApiDeps["redis"]): Promise<void> {
  if (redis.status === "ready") return;
  const ready = await new Promise<boolean>((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      redis.off("ready", onReady);
      resolve(ok);
    };
    const onReady = () => done(true);
    const timer = setTimeout(() => done(false), REDIS_WAIT_MS);
    redis.on("ready", onReady);
  });
  if (!ready) throw new DependencyDownError("redis", `redis is ${redis.status}`);
}

export function buildServer(input: ApiDeps): FastifyInstance {
  // Accept inserts commit asynchronously: the accept's final commit (synchronous, on Prisma) makes
  // them durable, and until then the sweep is `creating` (see createSweep). The pools connect lazily.
  const ownSql = input.sql
    ? null
    : createSqlPool({ url: input.config.databaseUrl, max: ACCEPT_SQL_CONNECTIONS, asyncCommit: true });
  // Reads get their own connections, so they never wait behind an accept's bulk inserts.
  const ownReads = input.reads ? null : createSqlPool({ url: input.config.databaseUrl, max: READ_SQL_CONNECTIONS });
  const reads = input.reads ?? (ownReads as NonNullable<typeof ownReads>);
  const deps: ApiDeps = { ...input, ...(ownSql ? { sql: ownSql } : {}), reads };
  const app = Fastify({
    logger: loggerOptions(deps.logger),
    // A line per request floods the console (the dashboard polls); LOG_LEVEL=debug brings them back.
    logController: new LogController({
      disableRequestLogging: deps.config.logLevel !== "debug" && deps.config.logLevel !== "trace",
    }),
    bodyLimit: deps.bodyLimit ?? 10 * 1024 * 1024,
    ajv: { customOptions: { strict: false } },
    // A URL Fastify cannot decode (e.g. %ED%A0%80, a lone surrogate) never reaches a route.
    frameworkErrors: (err, _req, reply) =>
      (reply as unknown as FastifyReply)
        .code(400)
        .type("application/problem+json")
        .send({
          type: "https://powersweep.dev/problems/invalid-url",
          title: "Invalid URL",
          status: 400,
          detail: err.message,
          errors: [{ path: "/url", message: "not a valid URL (percent-encoded bytes must be UTF-8)" }],
        }),
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.decorate("deps", deps);
  app.decorate("metrics", createApiMetrics({ reads, trialQueue: deps.trialQueue }));
  if (ownSql) app.addHook("onClose", async () => ownSql.end());
  if (ownReads) app.addHook("onClose", async () => ownReads.end());
  app.setValidatorCompiler(createValidatorCompiler());
  // Tests serialise strictly: a response field its schema does not declare is an error there
  // (production's fast-json-stringify drops it silently).
  if (deps.strictResponses) app.setSerializerCompiler(createStrictSerializerCompiler());
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
        errors: [{ path: "/url", message: "no such route" }],
      }),
  );

  // Writes and /metrics go through Redis (BullMQ), whose commands wait for a connection while it
  // is down: refuse them at once (503, redis) instead of hanging.
  app.addHook("onRequest", async (req) => {
    if ((req.method === "GET" || req.method === "HEAD") && !req.url.startsWith("/metrics")) return;
    if (!req.url.startsWith("/v1/") && !req.url.startsWith("/metrics")) return;
    await redisReady(deps.redis);
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(TEXT_TYPES, { parseAs: "string" }, (_req, body, done) => done(null, body));

  app.register(fastifyHelmet, {
    contentSecurityPolicy: { directives: CONTENT_SECURITY_POLICY },
    frameguard: { action: "deny" },
    crossOriginEmbedderPolicy: false,
    hsts: false,
  });

  app.register(fastifySwagger, {
    openapi: {
      openapi: "3.1.0",
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
    },
    { prefix: "/v1" },
  );

  if (existsSync(WEB_DIST)) app.register(fastifyStatic, { root: WEB_DIST, prefix: "/" });
  return app as unknown as FastifyInstance;
}
