// The CLI's API client: the shared typed client (@powersweep/spec/client) with its errors turned
// into CliError messages that name the field, and the way to start the API when it is not up.

import { uuidPrefixRange } from "@powersweep/spec";
import {
  type ApiClientOptions,
  ApiError,
  ApiUnreachableError,
  PowersweepClient,
  type RawRequest,
} from "@powersweep/spec/client";
import { CliError, EXIT_SERVER, EXIT_USAGE } from "./errors.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

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

/** CLI-facing errors for the shared client's failures. */
function cliError(err: unknown, token: string | undefined): unknown {
  if (err instanceof ApiUnreachableError) {
    return new CliError(
      `cannot reach the powersweep API at ${err.server} (${err.reason}); start it with \`powersweep start\` or set --server / POWERSWEEP_SERVER`,
      EXIT_SERVER,
    );
  }
  if (err instanceof ApiError) {
    if (err.status === 401) return new CliError(unauthorisedHint(err.problem as ProblemDetails | undefined, token));
    return new CliError(formatProblem(err.problem ?? { status: err.status, detail: err.message }));
  }
  return err;
}

export class ApiClient extends PowersweepClient {
  constructor(private readonly opts: ClientOptions) {
    super({ server: opts.server, ...(opts.token ? { token: opts.token } : {}) } satisfies ApiClientOptions);
  }

  override async text(path: string, r: RawRequest = {}): Promise<string> {
    try {
      return await super.text(path, r);
    } catch (err) {
      throw cliError(err, this.opts.token);
    }
  }

  /**
   * A sweep id as the user typed it: a whole uuid, or a unique prefix of 8 or more characters (the
   * tables print 8). Errors say when no sweep, or more than one, starts with it.
   */
  async sweepId(typed: string): Promise<string> {
    if (UUID.test(typed)) return typed.toLowerCase();
    if (!uuidPrefixRange(typed))
      throw new CliError(
        `"${typed}" is not a sweep id: give the whole id or its first 8 or more characters`,
        EXIT_USAGE,
      );
    const { items } = await this.listSweeps({ idPrefix: typed, limit: 2 });
    if (items.length === 0) throw new CliError(`no sweep id starts with "${typed}"`, EXIT_SERVER);
    if (items.length > 1)
      throw new CliError(`more than one sweep id starts with "${typed}": give more characters`, EXIT_USAGE);
    return items[0]!.id;
  }

  /** A request to a path the typed methods do not cover (answer typed by the caller). */
  request<T>(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<T> {
    return this.json<T>(path, { method, ...(body !== undefined ? { body, contentType } : {}) });
  }
  get<T>(path: string) {
    return this.request<T>("GET", path);
  }
  post<T>(path: string, body?: unknown, contentType?: string) {
    return this.request<T>("POST", path, body ?? {}, contentType);
  }
  getText(path: string): Promise<string> {
    return this.text(path);
  }
}
