// A small HTTP client for the powersweep API: bearer token, JSON, and problem+json errors turned
// into CliError messages that name the field.
import { CliError, EXIT_SERVER } from "./errors.ts";

export interface ClientOptions {
  server: string;
  token?: string;
}

export interface ProblemDetails {
  title?: string;
  detail?: string;
  status?: number;
  errors?: Array<{ path?: string; message?: string; line?: number }>;
}

export function formatProblem(p: ProblemDetails, source?: string): string {
  const head = `${p.title ?? "error"}${p.status ? ` (${p.status})` : ""}${p.detail ? `: ${p.detail}` : ""}`;
  const lines = (p.errors ?? []).map(
    (e) => `  ${source ? `${source}:` : ""}${e.line ? `${e.line}: ` : ""}${e.path || "/"}: ${e.message ?? "invalid"}`,
  );
  return [head, ...lines].join("\n");
}

/** What to do about a 401: a revoked token, an unknown one and a missing one each get their own hint. */
export function unauthorisedHint(p: (ProblemDetails & { reason?: string }) | undefined, token?: string): string {
  if (!token)
    return "unauthorised: pass --token or set POWERSWEEP_TOKEN (an admin creates one with `powersweep token create`)";
  if (p?.reason === "revoked" || /revoked/.test(p?.detail ?? ""))
    return "unauthorised: token revoked; ask an admin for a new one (`powersweep token create`)";
  return "unauthorised: unknown token; check --token / POWERSWEEP_TOKEN (an admin creates one with `powersweep token create`)";
}

export class ApiClient {
  constructor(private readonly opts: ClientOptions) {}

  get server(): string {
    return this.opts.server.replace(/\/$/, "");
  }

  async request<T>(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
    let payload: string | undefined;
    if (body !== undefined) {
      headers["content-type"] = contentType;
      payload = typeof body === "string" ? body : JSON.stringify(body);
    }
    let res: Response;
    try {
      res = await fetch(`${this.server}${path}`, { method, headers, body: payload });
    } catch (err) {
      throw new CliError(
        `cannot reach the powersweep API at ${this.server} (${(err as Error).cause ?? (err as Error).message}); start it with \`powersweep start\` or set --server / POWERSWEEP_SERVER`,
        EXIT_SERVER,
      );
    }
    const text = await res.text();
    const parsed = text ? safeJson(text) : undefined;
    if (!res.ok) {
      if (res.status === 401)
        throw new CliError(unauthorisedHint(parsed as ProblemDetails | undefined, this.opts.token));
      const problem = (parsed as ProblemDetails | undefined) ?? {
        title: res.statusText,
        status: res.status,
        detail: text,
      };
      throw new CliError(formatProblem({ status: res.status, ...problem }));
    }
    return parsed as T;
  }

  get<T>(path: string) {
    return this.request<T>("GET", path);
  }
  post<T>(path: string, body?: unknown, contentType?: string) {
    return this.request<T>("POST", path, body ?? {}, contentType);
  }
  async getText(path: string): Promise<string> {
    const headers: Record<string, string> = {};
    if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
    const res = await fetch(`${this.server}${path}`, { headers });
    const text = await res.text();
    if (!res.ok) throw new CliError(formatProblem((safeJson(text) as ProblemDetails) ?? { status: res.status }));
    return text;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
