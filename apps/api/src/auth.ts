// Bearer-token auth for /v1: no token → 401, a token without the route's scope → 403.
import { hashToken, hasScope, type Scope, verifyApiToken } from "@powersweep/orchestrator";
import type { FastifyReply, FastifyRequest } from "fastify";
import { problem } from "./problem.ts";

/** Verified tokens are remembered this long (a revocation takes effect within it). */
const CACHE_MS = 5_000;

export function authHook() {
  const cache = new Map<string, { at: number; token: { id: string; name: string; scopes: string[] } | null }>();
  return async function authenticate(req: FastifyRequest, _reply: FastifyReply) {
    const app = req.server;
    const needed: Scope =
      req.routeOptions.config?.scope ?? (req.method === "GET" || req.method === "HEAD" ? "read" : "submit");
    const header = req.headers.authorization ?? "";
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m?.[1])
      throw problem(401, "unauthorized", "Unauthorized", "a bearer token is required (Authorization: Bearer <token>)");
    const secret = m[1];
    const key = hashToken(secret);
    let hit = cache.get(key);
    if (!hit || Date.now() - hit.at > CACHE_MS) {
      const t = await verifyApiToken(app.deps.db, secret);
      hit = { at: Date.now(), token: t ? { id: t.id, name: t.name, scopes: t.scopes } : null };
      cache.set(key, hit);
      if (cache.size > 10_000) cache.clear();
    }
    if (!hit.token) throw problem(401, "unauthorized", "Unauthorized", "unknown or revoked token");
    if (!hasScope(hit.token.scopes, needed)) {
      throw problem(
        403,
        "forbidden",
        "Forbidden",
        `this route needs the "${needed}" scope; the token has ${hit.token.scopes.join(", ")}`,
      );
    }
    req.token = hit.token;
  };
}
