// /v1/tokens: API token management (admin scope). A token's secret is answered once, at creation;
// the database keeps only its sha256. Revocation holds at once (auth reads the token per request).
import { createApiToken, listApiTokens, revokeApiTokenById, SCOPES } from "@powersweep/orchestrator";
import { Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { FastifyPluginAsync } from "fastify";
import { problem } from "../problem.ts";
import { documentedOnly } from "../validator.ts";

const ScopeSchema = Type.Union(
  SCOPES.map((s) => Type.Literal(s)),
  { description: "read < submit < admin (admin implies all)" },
);

export const TokenCreateSchema = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 100,
      // printable, no leading/trailing space: names show in tables and as sweep owners
      pattern: "^[^\\s\\u0000-\\u001f\\u007f](?:[^\\u0000-\\u001f\\u007f]*[^\\s\\u0000-\\u001f\\u007f])?$",
      description: "A unique name; the token's principal (sweeps it submits are owned by this name)",
    }),
    scopes: Type.Array(ScopeSchema, { minItems: 1, maxItems: SCOPES.length, uniqueItems: true }),
  },
  { additionalProperties: false },
);

export const TokenViewSchema = Type.Object({
  id: Type.String({ format: "uuid" }),
  name: Type.String(),
  scopes: Type.Array(Type.String()),
  createdAt: Type.String({ format: "date-time" }),
  lastUsedAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
  revokedAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
});

export const CreatedTokenSchema = Type.Intersect([
  TokenViewSchema,
  Type.Object({ token: Type.String({ description: "The secret, shown this once" }) }),
]);

const adminOnly = { scope: "admin" as const };

export const tokenRoutes: FastifyPluginAsync = async (app) => {
  app.post(
    "/tokens",
    {
      config: adminOnly,
      schema: {
        summary: "Create an API token (admin); the secret is in this response only",
        tags: ["tokens"],
        body: documentedOnly(TokenCreateSchema),
        response: { 201: CreatedTokenSchema },
      },
    },
    async (req, reply) => {
      let body: unknown;
      try {
        body = typeof req.body === "string" ? JSON.parse(req.body) : req.body;
      } catch (err) {
        throw problem(400, "invalid-json", "Invalid JSON", (err as Error).message);
      }
      const errors = [...Value.Errors(TokenCreateSchema, body)]
        .slice(0, 10)
        .map((e) => ({ path: `/body${e.path}`, message: e.message }));
      if (errors.length)
        throw problem(400, "invalid-request", "Invalid request", `${errors[0]!.path}: ${errors[0]!.message}`, {
          errors,
        });
      const { name, scopes } = body as { name: string; scopes: string[] };
      if (await app.deps.db.apiToken.findUnique({ where: { name }, select: { id: true } }))
        throw problem(409, "conflict", "Conflict", `a token named "${name}" already exists`, {
          errors: [{ path: "/body/name", message: "already taken" }],
        });
      const created = await createApiToken(app.deps.db, { name, scopes }).catch((err) => {
        if ((err as { code?: string }).code === "P2002")
          throw problem(409, "conflict", "Conflict", `a token named "${name}" already exists`, {
            errors: [{ path: "/body/name", message: "already taken" }],
          });
        throw err;
      });
      return reply.code(201).send(created);
    },
  );

  app.get(
    "/tokens",
    {
      config: adminOnly,
      schema: {
        summary: "List API tokens (admin), without their secrets",
        tags: ["tokens"],
        response: { 200: Type.Object({ items: Type.Array(TokenViewSchema) }) },
      },
    },
    async () => ({ items: await listApiTokens(app.deps.db) }),
  );

  app.delete(
    "/tokens/:id",
    {
      config: adminOnly,
      schema: {
        summary: "Revoke an API token (admin); every API process refuses it from the next request",
        tags: ["tokens"],
        params: Type.Object({ id: Type.String({ format: "uuid" }) }),
        response: { 200: TokenViewSchema },
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const revoked = await revokeApiTokenById(app.deps.db, id);
      if (!revoked) throw problem(404, "not-found", "Not found", `no active token ${id}`);
      return revoked;
    },
  );
};
