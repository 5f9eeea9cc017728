// When is a run diverged? A result, not an error (types.ts TrialResult.status "diverged").
//   - any non-finite loss (NaN/Inf), or
//   - a loss above max(2 × initial, initial + 3 nats), where "initial" is the first step's loss
//     (≈ ln V for a fresh model). Checked at every step, warmup included: a trained LM never
//     legitimately doubles its starting loss, and a fresh one sits at ln V, so this margin only
//     fires on a blow-up.
export const DIVERGENCE_MARGIN_NATS = 3;
export const DIVERGENCE_FACTOR = 2;

export function divergenceThreshold(initialLoss: number): number {
  return Math.max(DIVERGENCE_FACTOR * initialLoss, initialLoss + DIVERGENCE_MARGIN_NATS);
}

/** Why the run diverged at this loss, or null when it did not. */
export function divergenceReason(loss: number, initialLoss: number | null, step: number): string | null {
  if (!Number.isFinite(loss)) return `loss is ${loss} at step ${step}`;
  if (initialLoss === null || !Number.isFinite(initialLoss)) return null;
  const threshold = divergenceThreshold(initialLoss);
  if (loss > threshold) {
    return `loss ${loss.toFixed(3)} at step ${step} exceeds max(2 × initial, initial + 3) = ${threshold.toFixed(3)} (initial ${initialLoss.toFixed(3)})`;
  }
  return null;
}
