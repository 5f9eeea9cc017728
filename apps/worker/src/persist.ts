// Postgres writes that must not be dropped (results, releases): retried with capped backoff, each
// retry logged, until they succeed (or `maxTries` is used up).
export type Log = (msg: string, fields?: Record<string, unknown>) => void;

export const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e)).split("\n")[0] ?? "";

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type Persist = <T>(label: string, fn: () => Promise<T>, maxTries?: number) => Promise<T>;

export function createPersist(log: Log): Persist {
  return async (label, fn, maxTries = Number.POSITIVE_INFINITY) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (attempt >= maxTries) throw e;
        const wait = Math.min(5000, 100 * 2 ** Math.min(attempt, 6));
        log("postgres write failed, retrying", { op: label, attempt, retryInMs: wait, error: errorText(e) });
        await sleep(wait);
      }
    }
  };
}
