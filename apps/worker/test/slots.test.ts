// The slot pool (apps/worker/src/slots.ts): never more than `slots` trainers, a freed slot goes to
// the job waiting for it, a job that waited too long gets none and stops prefetching, and jobs that
// only finish (result commit, acknowledgement) do not use up the concurrency that feeds the slots;
// the prefetch follows the trials' duration.
import { describe, expect, it } from "vitest";
import { createSlotPool } from "../src/slots.ts";

const tick = () => new Promise((r) => setTimeout(r, 0));

describe("slot pool", () => {
  it("hands out each slot once, and a released slot to the job waiting for it", async () => {
    const pool = createSlotPool({ slots: 2, maxPrefetch: 2, waitMs: 1000, onConcurrency: () => {} });
    const a = await pool.acquire();
    const b = await pool.acquire();
    expect([a?.slot, b?.slot].sort()).toEqual([0, 1]);
    let c: Awaited<ReturnType<typeof pool.acquire>> | undefined;
    void pool.acquire().then((l) => {
      c = l;
    });
    await tick();
    expect(c).toBeUndefined(); // both slots held: the third job waits
    a?.release();
    await tick();
    expect(c?.slot).toBe(a?.slot);
    expect(pool.busy).toBe(2);
    a?.release(); // idempotent: the slot is not given twice
    a?.settle();
    expect(pool.busy).toBe(2);
  });

  it("a finishing job raises the concurrency until it settles; slots + prefetch otherwise", async () => {
    const seen: number[] = [];
    const pool = createSlotPool({ slots: 2, maxPrefetch: 2, waitMs: 1000, onConcurrency: (c) => seen.push(c) });
    expect(pool.concurrency).toBe(4);
    const a = await pool.acquire();
    const b = await pool.acquire();
    a?.release(); // trainer done: the job now only commits its result and acknowledges
    b?.release();
    expect(pool.finishing).toBe(2);
    expect(pool.concurrency).toBe(6); // two more jobs may be fetched for the two free slots
    a?.settle();
    b?.settle();
    b?.settle(); // idempotent
    expect(pool.finishing).toBe(0);
    expect(pool.concurrency).toBe(4);
    expect(seen).toEqual([4, 5, 6, 5, 4]);
  });

  it("a job that gets no slot within the wait gets null: no prefetching until a slot frees", async () => {
    const pool = createSlotPool({ slots: 1, maxPrefetch: 1, waitMs: 20, onConcurrency: () => {} });
    const a = await pool.acquire();
    expect(await pool.acquire()).toBeNull();
    expect(pool.concurrency).toBe(1); // saturated
    a?.release();
    expect(pool.concurrency).toBe(1 + 1 + 1); // a slot freed: prefetch again, plus a's finishing
    a?.settle();
    expect(pool.concurrency).toBe(2);
    // a settled job that never released (claim failed, shutdown) frees its slot without finishing
    const b = await pool.acquire();
    b?.settle();
    expect(pool.busy).toBe(0);
    expect(pool.finishing).toBe(0);
  });

  it("prefetches as many jobs as the slots start within the wait: deep for short trials, one for long ones", async () => {
    let clock = 0;
    const pool = createSlotPool({ slots: 4, maxPrefetch: 16, waitMs: 250, onConcurrency: () => {}, now: () => clock });
    expect(pool.concurrency).toBe(4 + 4); // no trial finished yet: one job ahead per slot
    const run = async (ms: number) => {
      const lease = await pool.acquire();
      clock += ms;
      lease?.release();
      lease?.settle();
    };
    for (let i = 0; i < 5; i++) await run(2); // 4 slots × 250 ms / 2 ms = 500 → capped at 16
    expect(pool.concurrency).toBe(4 + 16);
    for (let i = 0; i < 40; i++) await run(10_000); // ten-second trials: 4 × 0.25 / 10 → 1
    expect(pool.concurrency).toBe(4 + 1);
    for (let i = 0; i < 40; i++) await run(125); // 4 × 250 / 125 = 8
    expect(pool.concurrency).toBe(4 + 8);
    const none = createSlotPool({ slots: 2, maxPrefetch: 0, waitMs: 250, onConcurrency: () => {}, now: () => clock });
    const lease = await none.acquire();
    lease?.release();
    lease?.settle();
    expect(none.concurrency).toBe(2); // maxPrefetch 0: never ahead
  });

  it("random interleavings never hold more than `slots` slots", async () => {
    const slots = 3;
    const pool = createSlotPool({ slots, maxPrefetch: 3, waitMs: 5, onConcurrency: () => {} });
    let held = 0;
    let maxHeld = 0;
    const job = async (i: number) => {
      const lease = await pool.acquire();
      if (!lease) return;
      held++;
      maxHeld = Math.max(maxHeld, held);
      await new Promise((r) => setTimeout(r, i % 3));
      held--;
      lease.release();
      await new Promise((r) => setTimeout(r, (i * 7) % 4));
      lease.settle();
    };
    await Promise.all(Array.from({ length: 60 }, (_, i) => job(i)));
    expect(maxHeld).toBe(slots);
    expect(pool.busy).toBe(0);
    expect(pool.finishing).toBe(0);
  });
});
