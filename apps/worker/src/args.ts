// The worker's command line, parsed once: `powersweep worker`, apps/worker/src/main.ts (tests,
// benchmarks) and Docker all go through parseWorkerArgs.

export interface WorkerArgs {
  devices?: string[];
  /** Trials each device runs at once, each in its own trainer (default 1). */
  slotsPerDevice?: number;
  concurrency?: number;
  execTrainers: Record<string, string[]>;
}

const positiveInt = (flag: string, raw: string) => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got "${raw}"`);
  return n;
};

/** Parses worker flags; exec commands are split on whitespace (`name=python3 train.py`). */
export function parseWorkerArgs(argv: string[]): WorkerArgs {
  const out: WorkerArgs = { execTrainers: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? "";
    const [flag, inline] =
      a.includes("=") && a.startsWith("--")
        ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]
        : [a, undefined];
    const value = () => inline ?? argv[++i] ?? "";
    if (flag === "--devices")
      out.devices = value()
        .split(",")
        .map((d) => d.trim())
        .filter(Boolean);
    else if (flag === "--concurrency") out.concurrency = positiveInt(flag, value());
    else if (flag === "--slots-per-device") out.slotsPerDevice = positiveInt(flag, value());
    else if (flag === "--trainer-exec") {
      const spec = value();
      const eq = spec.indexOf("=");
      if (eq <= 0) throw new Error(`--trainer-exec expects name=command, got "${spec}"`);
      out.execTrainers[spec.slice(0, eq)] = spec
        .slice(eq + 1)
        .trim()
        .split(/\s+/);
    } else throw new Error(`unknown flag ${a}`);
  }
  if (out.slotsPerDevice !== undefined && !out.devices?.length)
    throw new Error("--slots-per-device needs --devices (CPU slots: --concurrency)");
  return out;
}

/** One trial slot: the device it runs on (null: CPU) and its name in the fleet view. */
export interface WorkerSlot {
  device: string | null;
  name: string;
}

/**
 * The slots of a worker: `slotsPerDevice` per device (each its own trainer, pinned with
 * CUDA_VISIBLE_DEVICES=<device>), or `concurrency` CPU slots when no devices are given.
 */
export function workerSlots({
  devices = [],
  slotsPerDevice = 1,
  concurrency = 1,
}: {
  devices?: string[];
  slotsPerDevice?: number;
  concurrency?: number;
}): WorkerSlot[] {
  const gpus = devices.filter((d) => d !== "");
  if (!gpus.length)
    return Array.from({ length: Math.max(1, concurrency) }, (_, i) => ({ device: null, name: `cpu:${i}` }));
  const per = Math.max(1, slotsPerDevice);
  return gpus.flatMap((device) =>
    Array.from({ length: per }, (_, k) => ({ device, name: per === 1 ? device : `${device}:${k}` })),
  );
}
