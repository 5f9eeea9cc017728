// LOG_LEVEL: the console gets no line per HTTP request unless asked for one (the dashboard polls
// every few seconds, and each poll used to print a JSON line).
import { Writable } from "node:stream";
import { createDb } from "@powersweep/db";
import { createRedis, createTrialQueue } from "@powersweep/queue";
import { loadConfig } from "@powersweep/runtime";
import { describe, expect, it } from "vitest";
import { testConfig, uniquePrefix } from "../../../test/env.ts";
import { buildServer } from "../src/index.ts";

async function requestLines(logLevel: "info" | "debug"): Promise<string[]> {
  const config = testConfig({ redisPrefix: uniquePrefix("logging"), logLevel });
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      done();
    },
  });
  const db = createDb({ url: config.databaseUrl, max: 2 });
  const redis = createRedis({ url: config.redisUrl });
  const trialQueue = createTrialQueue(redis, config.redisPrefix);
  const app = buildServer({ db, redis, trialQueue, config, auth: true, logger: { level: logLevel, stream } });
  try {
    const address = await app.listen({ host: "127.0.0.1", port: 0 });
    for (let i = 0; i < 3; i++) expect((await fetch(`${address}/healthz`)).status).toBe(200);
    return lines.filter((l) => /incoming request|request completed/.test(l));
  } finally {
    await app.close();
    await trialQueue.close();
    redis.disconnect();
    await db.$disconnect();
  }
}

describe("request logs", () => {
  it("are quiet at the default level and back at LOG_LEVEL=debug", async () => {
    expect(loadConfig({}).logLevel).toBe("info");
    expect(await requestLines("info")).toEqual([]);
    expect((await requestLines("debug")).length).toBe(6);
  });

  it("LOG_LEVEL names its allowed values when it is wrong", () => {
    expect(() => loadConfig({ LOG_LEVEL: "loud" })).toThrow(
      'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
    );
  });
});
