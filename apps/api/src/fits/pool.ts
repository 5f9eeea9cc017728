// A small pool of worker threads for ad-hoc fits: a fit of many rows takes seconds of CPU, which on
// the API's event loop would stall every other request (health checks included). A fit that runs
// past its time limit is stopped by terminating its thread (a fresh one replaces it).
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { FitJobResult } from "./job.ts";

export class FitTimeoutError extends Error {}
export class FitPoolBusyError extends Error {}

interface Task {
  id: number;
  text: string;
  maxRows: number;
  resolve: (r: FitJobResult) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  task: Task | null;
  timer: NodeJS.Timeout | null;
}

function spawn(): Worker {
  const require = createRequire(import.meta.url);
  // tsx's ESM register API, so the thread can load the TypeScript entry (as packages/model does)
  const tsx = pathToFileURL(require.resolve("tsx/esm/api").replace(/\.c?js$/, ".mjs")).href;
  const entry = new URL("./thread.ts", import.meta.url).href;
  const boot = `import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(entry)}); }).catch((e) => { console.error(e); process.exit(1); });`;
  return new Worker(boot, { eval: true, execArgv: [] });
}

export class FitPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private nextId = 1;
  private closed = false;

  constructor(private readonly opts: { threads: number; timeoutMs: number; maxQueued: number }) {}

  run(text: string, maxRows: number): Promise<FitJobResult> {
    if (this.closed) return Promise.reject(new Error("fit pool closed"));
    if (this.queue.length >= this.opts.maxQueued)
      return Promise.reject(new FitPoolBusyError(`${this.queue.length} ad-hoc fits are already waiting`));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, text, maxRows, resolve, reject });
      this.pump();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.queue.splice(0)) t.reject(new Error("fit pool closed"));
    await Promise.all(this.slots.splice(0).map((s) => this.stop(s)));
  }

  private pump() {
    while (this.queue.length) {
      let slot = this.slots.find((s) => !s.task);
      if (!slot && this.slots.length < this.opts.threads) slot = this.addSlot();
      if (!slot) return;
      const task = this.queue.shift()!;
      this.start(slot, task);
    }
  }

  private addSlot(): Slot {
    const worker = spawn();
    const ready = new Promise<void>((resolve, reject) => {
      const onMessage = (m: { ready?: boolean }) => {
        if (m.ready) {
          worker.off("message", onMessage);
          resolve();
        }
      };
      worker.on("message", onMessage);
      worker.once("error", reject);
    });
    const slot: Slot = { worker, ready, task: null, timer: null };
    worker.on("message", (m: { id?: number; result?: FitJobResult; error?: string }) => {
      const task = slot.task;
      if (!task || m.id !== task.id) return;
      this.finish(slot);
      if (m.result) task.resolve(m.result);
      else task.reject(new Error(m.error ?? "fit failed"));
    });
    worker.on("error", (err) => this.crash(slot, err));
    worker.on("exit", () => this.crash(slot, new Error("fit thread exited")));
    worker.unref();
    this.slots.push(slot);
    return slot;
  }

  private start(slot: Slot, task: Task) {
    slot.task = task;
    slot.ready.then(
      () => {
        if (slot.task !== task) return;
        // the limit counts from when the fit starts, not while it waits for a thread
        slot.timer = setTimeout(() => {
          this.remove(slot);
          task.reject(new FitTimeoutError(`the fit did not finish within ${this.opts.timeoutMs / 1000} s`));
          void slot.worker.terminate();
          this.pump();
        }, this.opts.timeoutMs);
        slot.worker.postMessage({ id: task.id, text: task.text, maxRows: task.maxRows });
      },
      (err: Error) => this.crash(slot, err),
    );
  }

  private finish(slot: Slot) {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    slot.task = null;
    queueMicrotask(() => this.pump());
  }

  private crash(slot: Slot, err: Error) {
    if (!this.slots.includes(slot)) return;
    this.remove(slot);
    slot.task?.reject(err);
    if (!this.closed) this.pump();
  }

  private remove(slot: Slot) {
    if (slot.timer) clearTimeout(slot.timer);
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
  }

  private async stop(slot: Slot) {
    if (slot.timer) clearTimeout(slot.timer);
    slot.task?.reject(new Error("fit pool closed"));
    await slot.worker.terminate();
  }
}
