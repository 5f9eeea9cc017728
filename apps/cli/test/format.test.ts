// What the CLI and the demo print while a sweep runs.
import { describe, expect, it } from "vitest";
import { actionLine } from "../src/commands/sweeps.ts";
import { createEta, formatClock, progressLine } from "../src/format.ts";

describe("progress", () => {
  it("a cancelled sweep reads as the trials it trained, not as all done", () => {
    const line = progressLine({
      id: "s",
      name: "n",
      kind: "lr-grid",
      status: "cancelled",
      trialCount: 36,
      counts: { succeeded: 17, cancelled: 19 },
    });
    expect(line).toContain("17/36 done");
    expect(line).toContain("cancelled 19");
    expect(line).not.toContain("36/36");
  });

  it("elapsed time keeps a fixed width and moves every second", () => {
    expect([7, 89, 91, 149, 754, 3725].map(formatClock)).toEqual(["0:07", "1:29", "1:31", "2:29", "12:34", "1:02:05"]);
  });

  it("the ETA counts down steadily while the running trials' speed jumps", () => {
    const eta = createEta(30);
    // 1.2M tokens to go at a true mean speed of 10k tok/s; the reported speed jumps between 5k and
    // 15k as trials start and finish (the raw ratio would swing between 40 s and 240 s).
    let remaining = 1_200_000;
    const shown: number[] = [];
    for (let t = 0; t < 60; t++) {
      const reported = t % 2 ? 15_000 : 5_000;
      shown.push(eta({ tokensPerSecond: reported, remainingTokens: remaining }, t * 1000)!);
      remaining -= 10_000;
    }
    for (let t = 20; t < 60; t++) {
      const truth = (1_200_000 - t * 10_000) / 10_000;
      expect(Math.abs(shown[t]! - truth)).toBeLessThan(0.1 * truth + 1);
      // It never jumps back up by more than two seconds (the raw ratio jumps by a minute or more).
      expect(shown[t]! - shown[t - 1]!).toBeLessThan(2);
    }
  });
});

describe("cancel, retry and resume", () => {
  it("say what they did in words", () => {
    expect(actionLine("abc", "cancel", { id: "abc", status: "cancelled", cancelled: 19, signalled: 1 })).toBe(
      "sweep abc cancelled: 19 trials that had not started, 1 trial running (each stops at its worker's next heartbeat)",
    );
    expect(actionLine("abc", "retry", { id: "abc", retried: 1 })).toBe("sweep abc: 1 trial that crashed queued again");
    expect(actionLine("abc", "resume", { id: "abc", resumed: 17 })).toBe("sweep abc resumed: 17 trials queued again");
  });
});
