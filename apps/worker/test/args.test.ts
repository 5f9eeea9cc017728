// The worker CLI flags: what `powersweep worker` and apps/worker/src/main.ts accept.
import { describe, expect, it } from "vitest";
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

  it("refuses bad flags with a message", () => {
    expect(() => parseWorkerArgs(["--concurrency", "0"])).toThrow(/positive integer/);
    expect(() => parseWorkerArgs(["--trainer-exec", "nocommand"])).toThrow(/name=command/);
    expect(() => parseWorkerArgs(["--gpus", "0"])).toThrow(/unknown flag --gpus/);
  });
});
