// The worker-thread side of ad-hoc fits (routes/fits.ts runs them in a ThreadPool).
import { serveThreadTasks } from "@powersweep/runtime";
import { runFitJob } from "./job.ts";

serveThreadTasks(({ text, maxRows }: { text: string; maxRows: number }) => runFitJob(text, maxRows));
