/** The lower middle of xs (NaN when empty). */
export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.floor((s.length - 1) / 2)] as number) : Number.NaN;
};

/** The p-th percentile of xs, nearest rank (NaN when empty). */
export const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};

/**
 * The benchmarks' large lr-grid: `models` proxies (d64, 2 layers) × 10 tokens × 10 batchSize ×
 * 10 lr × `seeds` seeds, 1,000 × models × seeds trials. Without shared trunks, so that every trial
 * gets its job at accept, as the figures these benchmarks compare with were taken.
 */
export function benchSweep(name: string, models: number, seeds: number, tags: string[] = []) {
  return {
    kind: "lr-grid",
    name,
    share: "none",
    ...(tags.length ? { tags } : {}),
    axes: {
      models: Array.from({ length: models }, (_, i) => ({
        name: `m${i}`,
        dModel: 64,
        nLayers: 2,
        nHeads: 4,
        dHead: 16,
        mlpHidden: 256,
        baseWidth: 32,
      })),
      tokens: { geometric: { from: 1e5, factor: 2, count: 10 } },
      batchSize: { geometric: { from: 4, factor: 2, count: 10 } },
      lr: { logspace: { from: 1e-4, to: 3e-2, num: 10 } },
      seeds: { count: seeds },
    },
  };
}
