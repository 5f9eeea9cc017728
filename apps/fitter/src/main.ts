import { loadConfig } from "@powersweep/runtime";
import { startFitter } from "./index.ts";

const config = loadConfig();
const fitter = await startFitter(config);
const stop = () => fitter.close().then(() => process.exit(0));
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
