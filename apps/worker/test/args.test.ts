// The worker CLI flags: what `powersweep worker` and apps/worker/src/main.ts accept.
import { describe, expect, it } from "vitest";
import { workerSlots } from "../src/args.ts";
import { parseWorkerArgs } from "../src/main.ts";

describe("worker flags", () => {
  it("parses devices, concurrency and exec trainers", () => {
    expect(
      parseWorkerArgs([
        "--devices",
        "0,1,2,3",
        "--trainer-exec",
        "jax=python3 jax_train.py --fast",
        "--trainer-exec=tiny=./tiny",
      ]),
    ).toEqual({
      devices: ["0", "1", "2", "3"],
      execTrainers: { jax: ["python3", "jax_train.py", "--fast"], tiny: ["./tiny"] },
    });
    expect(parseWorkerArgs(["--concurrency=2"])).toEqual({ concurrency: 2, execTrainers: {} });
  });

  it("several slots per device: each device appears once per slot, pinned to that device", () => {
    const args = parseWorkerArgs(["--devices", "0,1", "--slots-per-device", "3"]);
    expect(args).toEqual({ devices: ["0", "1"], slotsPerDevice: 3, execTrainers: {} });
    const slots = workerSlots(args);
    expect(slots.map((s) => s.device)).toEqual(["0", "0", "0", "1", "1", "1"]);
    expect(new Set(slots.map((s) => s.name)).size).toBe(6);
    // one slot per device by default, named by the device; CPU slots from --concurrency
    expect(workerSlots({ devices: ["2", "3"] })).toEqual([
      { device: "2", name: "2" },
      { device: "3", name: "3" },
    ]);
    expect(workerSlots(parseWorkerArgs(["--concurrency", "4"])).map((s) => s.device)).toEqual([null, null, null, null]);
    expect(() => parseWorkerArgs(["--slots-per-device", "2"])).toThrow(/needs --devices/);
    expect(() => parseWorkerArgs(["--devices", "0", "--slots-per-device", "0"])).toThrow(/positive integer/);
  });

  it("refuses bad flags with a message", () => {
    expect(() => parseWorkerArgs(["--concurrency", "0"])).toThrow(/positive integer/);
    expect(() => parseWorkerArgs(["--trainer-exec", "nocommand"])).toThrow(/name=command/);
    expect(() => parseWorkerArgs(["--gpus", "0"])).toThrow(/unknown flag --gpus/);
  });
});
