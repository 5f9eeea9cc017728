// `node apps/api/dist/main.js`: check services, then serve.
import { ensurePostgres, ensureRedis, loadConfig, ServiceUnavailableError } from "@powersweep/runtime";
import { startApi } from "./index.ts";

const config = loadConfig();
try {
  await ensurePostgres(config.databaseUrl);
  await ensureRedis(config.redisUrl);
} catch (err) {
  if (err instanceof ServiceUnavailableError) {
    console.error(`powersweep api: ${err.message}`);
    process.exit(1);
  }
  throw err;
}
const api = await startApi(config);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void api.close().then(() => process.exit(0));
  });
}
