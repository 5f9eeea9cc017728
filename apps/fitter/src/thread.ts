// The worker-thread side of the fitter's pool: one sweep fit per task, off the fitter's event loop
// (so its BullMQ locks are renewed during a large fit).
import { type FitRow, fitSweep } from "@powersweep/fit";
import { serveThreadTasks } from "@powersweep/runtime";

serveThreadTasks(({ rows, options }: { rows: FitRow[]; options: Record<string, unknown> }) => fitSweep(rows, options));
