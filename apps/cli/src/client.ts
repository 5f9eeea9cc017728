// The CLI's API client: the shared typed client (@powersweep/spec/client) with its errors turned
// into CliError messages that name the field, and the way to start the API when it is not up.
import {
  type ApiClientOptions,
  ApiError,
  ApiUnreachableError,
  PowersweepClient,
  type RawRequest,
} from "@powersweep/spec/client";
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

/** CLI-facing errors for the shared client's failures. */
function cliError(err: unknown): unknown {
  if (err instanceof ApiUnreachableError) {
    return new CliError(
      `cannot reach the powersweep API at ${err.server} (${err.reason}); start it with \`powersweep start\` or set --server / POWERSWEEP_SERVER`,
      EXIT_SERVER,
    );
  }
  if (err instanceof ApiError) {
    if (err.status === 401)
      return new CliError(
        "unauthorised: pass --token or set POWERSWEEP_TOKEN (create one with `powersweep token create`)",
      );
    return new CliError(formatProblem(err.problem ?? { status: err.status, detail: err.message }));
  }
  return err;
}

export class ApiClient extends PowersweepClient {
  constructor(opts: ClientOptions) {
    super({ server: opts.server, ...(opts.token ? { token: opts.token } : {}) } satisfies ApiClientOptions);
  }

  override async text(path: string, r: RawRequest = {}): Promise<string> {
    try {
      return await super.text(path, r);
    } catch (err) {
      throw cliError(err);
    }
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
