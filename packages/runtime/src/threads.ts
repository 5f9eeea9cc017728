// A small pool of worker threads for CPU-heavy pure work (fits of many rows), so a process's event
// loop stays free: health checks answer, BullMQ locks are renewed. Threads load a TypeScript entry
// through tsx's register API. A task past its time limit is stopped by terminating its thread (a
// fresh one replaces it).
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parentPort, Worker } from "node:worker_threads";

export class ThreadTimeoutError extends Error {}
export class ThreadPoolBusyError extends Error {}

interface Task {
  id: number;
  input: unknown;
  timeoutMs: number;
  resolve: (r: unknown) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  task: Task | null;
  timer: NodeJS.Timeout | null;
}

/** In the thread's entry module: answers each task with `handler(input)`. */
export function serveThreadTasks<I, O>(handler: (input: I) => O | Promise<O>): void {
  const port = parentPort;
  if (!port) throw new Error("serveThreadTasks runs in a worker thread");
  port.on("message", async (m: { id: number; input: I }) => {
    try {
      port.postMessage({ id: m.id, output: await handler(m.input) });
    } catch (err) {
      port.postMessage({ id: m.id, error: (err as Error).message ?? String(err) });
    }
  });
  port.postMessage({ ready: true });
}

function spawnThread(entry: URL): Worker {
  // Compiled (dist/): callers name their entry `./x.ts` as in the sources; its `.js` sibling runs as it is.
  const compiled = new URL(entry.href.replace(/\.ts$/, ".js"));
  if (!existsSync(fileURLToPath(entry)) && existsSync(fileURLToPath(compiled)))
    return new Worker(compiled, { execArgv: [] });
  const require = createRequire(import.meta.url);
  const tsx = pathToFileURL(require.resolve("tsx/esm/api").replace(/\.c?js$/, ".mjs")).href;
  // a plain-JS bootstrap registers tsx in the thread, then loads the TypeScript entry
  const boot = `import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(entry.href)}); }).catch((e) => { console.error(e); process.exit(1); });`;
  return new Worker(boot, { eval: true, execArgv: [] });
}

export interface ThreadPoolOptions {
  /** The module that calls serveThreadTasks. */
  entry: URL;
  threads: number;
  /** Tasks that may wait for a thread before run() refuses with ThreadPoolBusyError. */
  maxQueued?: number;
  /** Per-task limit from when it starts in a thread (default: none). */
  timeoutMs?: number;
}

export class ThreadPool<I, O> {
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private nextId = 1;
  private closed = false;

  constructor(private readonly opts: ThreadPoolOptions) {}

  run(input: I, { timeoutMs = this.opts.timeoutMs ?? 0 }: { timeoutMs?: number } = {}): Promise<O> {
    if (this.closed) return Promise.reject(new Error("thread pool closed"));
    if (this.queue.length >= (this.opts.maxQueued ?? Number.POSITIVE_INFINITY))
      return Promise.reject(new ThreadPoolBusyError(`${this.queue.length} tasks are already waiting`));
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, input, timeoutMs, resolve: resolve as (r: unknown) => void, reject });
      this.pump();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.queue.splice(0)) t.reject(new Error("thread pool closed"));
    await Promise.all(
      this.slots.splice(0).map(async (s) => {
        if (s.timer) clearTimeout(s.timer);
        s.task?.reject(new Error("thread pool closed"));
        await s.worker.terminate();
      }),
    );
  }

  private pump() {
    while (this.queue.length && !this.closed) {
      let slot = this.slots.find((s) => !s.task);
      if (!slot && this.slots.length < this.opts.threads) slot = this.addSlot();
      if (!slot) return;
      this.start(slot, this.queue.shift()!);
    }
  }

  private addSlot(): Slot {
    const worker = spawnThread(this.opts.entry);
    const ready = new Promise<void>((resolve, reject) => {
      const onMessage = (m: { ready?: boolean }) => {
        if (!m.ready) return;
        worker.off("message", onMessage);
        resolve();
      };
      worker.on("message", onMessage);
      worker.once("error", reject);
    });
    ready.catch(() => {}); // a failed start rejects the task through crash()
    const slot: Slot = { worker, ready, task: null, timer: null };
    worker.on("message", (m: { id?: number; output?: unknown; error?: string }) => {
      const task = slot.task;
      if (!task || m.id !== task.id) return;
      if (slot.timer) clearTimeout(slot.timer);
      slot.timer = null;
      slot.task = null;
      if (m.error !== undefined) task.reject(new Error(m.error));
      else task.resolve(m.output);
      this.pump();
    });
    worker.on("error", (err) => this.crash(slot, err));
    worker.on("exit", () => this.crash(slot, new Error("worker thread exited")));
    worker.unref(); // never keeps the process alive
    this.slots.push(slot);
    return slot;
  }

  private start(slot: Slot, task: Task) {
    slot.task = task;
    slot.ready.then(
      () => {
        if (slot.task !== task) return;
        if (task.timeoutMs > 0) {
          slot.timer = setTimeout(() => {
            this.remove(slot);
            task.reject(new ThreadTimeoutError(`did not finish within ${task.timeoutMs / 1000} s`));
            void slot.worker.terminate();
            this.pump();
          }, task.timeoutMs);
        }
        slot.worker.postMessage({ id: task.id, input: task.input });
      },
      (err: Error) => this.crash(slot, err),
    );
  }

  private crash(slot: Slot, err: Error) {
    if (!this.slots.includes(slot)) return;
    this.remove(slot);
    slot.task?.reject(err);
    slot.task = null;
    this.pump();
  }

  private remove(slot: Slot) {
    if (slot.timer) clearTimeout(slot.timer);
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
  }
}
