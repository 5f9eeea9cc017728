// Bearer-token auth for /v1: no token → 401, a token without the route's scope → 403, a sweep
// acted on by a submit token that does not own it → 403, too many failed tokens from one address
// → 429. Tokens are checked on every request (one indexed read, no cache), so a revocation holds
// at once on every API process.
import { checkApiToken, hasScope, type Scope } from "@powersweep/orchestrator";
import type { FastifyReply, FastifyRequest } from "fastify";
import { problem } from "./problem.ts";

/**
 * Failed token checks per client address in fixed one-minute windows. Past the limit the address
 * gets 429 without a database lookup until its window ends. In memory, per API process.
 */
export class FailureLimiter {
  private readonly windows = new Map<string, { start: number; failures: number }>();
  constructor(
    private readonly perWindow: number,
    private readonly windowMs = 60_000,
    private readonly now = () => Date.now(),
  ) {}

  /** Seconds until `address` may try again, or 0 when it may try now. */
  retryAfterSeconds(address: string): number {
    const w = this.windows.get(address);
    if (!w) return 0;
    const left = w.start + this.windowMs - this.now();
    if (left <= 0) {
      this.windows.delete(address);
      return 0;
    }
    return w.failures >= this.perWindow ? Math.ceil(left / 1000) : 0;
  }

  fail(address: string): void {
    const t = this.now();
    let w = this.windows.get(address);
    if (!w || t - w.start >= this.windowMs) {
      // bounded memory under a flood from many addresses: expired windows go first
      if (this.windows.size >= 100_000) this.prune(t);
      w = { start: t, failures: 0 };
      this.windows.set(address, w);
    }
    w.failures++;
  }

  private prune(t: number) {
    for (const [k, w] of this.windows) if (t - w.start >= this.windowMs) this.windows.delete(k);
    if (this.windows.size >= 100_000) this.windows.clear();
  }
}

export function authHook({ failuresPerMinute }: { failuresPerMinute: number }) {
  const limiter = new FailureLimiter(Math.max(1, failuresPerMinute));
  return async function authenticate(req: FastifyRequest, reply: FastifyReply) {
    const app = req.server;
    const needed: Scope =
      req.routeOptions.config?.scope ?? (req.method === "GET" || req.method === "HEAD" ? "read" : "submit");
    const header = req.headers.authorization ?? "";
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m?.[1]) {
      app.metrics.authFailures.inc({ reason: "missing" });
      throw problem(401, "unauthorized", "Unauthorized", "a bearer token is required (Authorization: Bearer <token>)");
    }
    const wait = limiter.retryAfterSeconds(req.ip);
    if (wait > 0) {
      app.metrics.authFailures.inc({ reason: "rate-limited" });
      reply.header("retry-after", String(wait));
      throw problem(
        429,
        "too-many-failed-tokens",
        "Too many failed tokens",
        `too many unknown or revoked tokens from ${req.ip}; try again in ${wait} s`,
        { retryAfterSeconds: wait },
      );
    }
    const check = await checkApiToken(app.deps.reads ?? app.deps.db, m[1]);
    if (!check.ok) {
      limiter.fail(req.ip);
      app.metrics.authFailures.inc({ reason: check.reason });
      throw check.reason === "revoked"
        ? problem(401, "token-revoked", "Unauthorized", "token revoked: ask an admin for a new one", {
            reason: "revoked",
          })
        : problem(401, "unauthorized", "Unauthorized", "unknown token: check --token / POWERSWEEP_TOKEN", {
            reason: "unknown",
          });
    }
    if (!hasScope(check.token.scopes, needed)) {
      throw problem(
        403,
        "forbidden",
        "Forbidden",
        `this route needs the "${needed}" scope; the token has ${check.token.scopes.join(", ")}`,
      );
    }
    req.token = check.token;
  };
}

/**
 * Whether the request's token may `read` or `act` on (cancel, retry, extend, resume) a sweep:
 * read tokens read, submit tokens act on the sweeps they submitted, admin tokens on all. Without
 * auth (POWERSWEEP_AUTH=off) everything is allowed. An unknown sweep passes, so the handler
 * answers its own 404.
 */
export async function requireSweepAccess(req: FastifyRequest, sweepId: string, access: "read" | "act"): Promise<void> {
  const token = req.token;
  if (!token) return;
  if (access === "read" || hasScope(token.scopes, "admin")) return;
  const sweep = await req.server.deps.db.sweep.findUnique({ where: { id: sweepId }, select: { owner: true } });
  if (!sweep) return;
  if (sweep.owner !== token.name) {
    throw problem(
      403,
      "not-owner",
      "Forbidden",
      `sweep ${sweepId} belongs to ${sweep.owner ? `"${sweep.owner}"` : "nobody"}; only its owner or an admin token may change it`,
    );
  }
}
