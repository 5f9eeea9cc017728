// One trainer per (trainer name, slot), created on first use: an exec trainer is then one process
// per slot, pinned to the slot's device with CUDA_VISIBLE_DEVICES.
import { createTrainer, type Trainer } from "@powersweep/trainer";
import type { WorkerSlot } from "./args.ts";

export function createTrainerCache(slots: WorkerSlot[], execTrainers: Record<string, string[]> | undefined) {
  const trainers = new Map<string, Promise<Trainer>>();
  return (name: string, slot: number): Promise<Trainer> => {
    const key = `${name}@${slot}`;
    let t = trainers.get(key);
    if (!t) {
      const device = slots[slot]?.device;
      t = createTrainer(name, {
        execTrainers,
        env: device == null ? process.env : { ...process.env, CUDA_VISIBLE_DEVICES: device },
        // several in-process tfjs trials already share the cores: no extra gradient thread
        tfjsGradientWorker: slots.length > 1 ? false : undefined,
      });
      t.catch(() => trainers.delete(key));
      trainers.set(key, t);
    }
    return t;
  };
}
