// Trainer backends, by name. A sweep names its trainer; each worker decides what that name runs.
//   tfjs   in-process TensorFlow.js (wasm by default; tfjs-node(-gpu) when installed)
//   torch  the reference PyTorch trainer (python/train.py) over the exec protocol
//   <name> any command the worker was configured with (exec protocol: JSON config on stdin,
//          JSON lines on stdout); sweeps can only name commands, never supply them
//   sleep  benchmark-only: waits and returns a fixed loss (never a default)
import type { Trainer } from "./types.ts";

export * from "./curve.ts";
export { referenceTorchCommand } from "./exec.ts";
export { prepareExecData } from "./exec-data.ts";
export * from "./types.ts";

/** Trainer names every worker offers; workers add their --trainer-exec names (Worker.backend). */
export const BUILTIN_TRAINERS = ["tfjs", "torch", "sleep"] as const;

export interface TrainerRegistryOptions {
  /** Extra exec trainers this worker offers: name → argv. */
  execTrainers?: Record<string, string[]>;
  /** Environment for exec trainers (e.g. CUDA_VISIBLE_DEVICES). */
  env?: NodeJS.ProcessEnv;
  /** tfjs: compute the second half-batch shard in a worker thread (see TfjsTrainerOptions). */
  tfjsGradientWorker?: boolean;
}

export async function createTrainer(name: string, options: TrainerRegistryOptions = {}): Promise<Trainer> {
  const custom = options.execTrainers?.[name];
  if (custom) {
    const { createExecTrainer } = await import("./exec.ts");
    return createExecTrainer({ name, command: custom, env: options.env });
  }
  switch (name) {
    case "tfjs": {
      const { createTfjsTrainer } = await import("./tfjs.ts");
      return createTfjsTrainer({ gradientWorker: options.tfjsGradientWorker });
    }
    case "torch": {
      const { createExecTrainer, referenceTorchCommand } = await import("./exec.ts");
      return createExecTrainer({ name, command: referenceTorchCommand(), env: options.env });
    }
    case "sleep": {
      const { createSleepTrainer } = await import("./sleep.ts");
      return createSleepTrainer();
    }
    default:
      throw new Error(
        `unknown trainer "${name}" (this worker offers: tfjs, torch, sleep${Object.keys(options.execTrainers ?? {})
          .map((n) => `, ${n}`)
          .join("")})`,
      );
  }
}
