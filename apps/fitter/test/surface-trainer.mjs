// An exec trainer (docs/exec-protocol.md) that trains nothing: it answers at once with a test loss
// from a known surface, L = 3 + 0.2·(ln η − ln η*(T, β))² + a small deterministic ripple, so an
// adaptive η search can be checked against the optimum it must find. η* = β·a·T^b with the law in
// SURFACE_LAW below; learning rates above DIVERGE_ABOVE diverge.
export const SURFACE_LAW = { a: 0.01 / 4, b: 0, bigTokens: 8192, bigEtaStar: 0.3 };
export const DIVERGE_ABOVE = 3;

/** η* of a cell: β·a·T^b below bigTokens; at bigTokens and above, bigEtaStar (past the coarse range). */
export function etaStar(tokens, batchSize) {
  if (tokens >= SURFACE_LAW.bigTokens) return SURFACE_LAW.bigEtaStar;
  return batchSize * SURFACE_LAW.a * tokens ** SURFACE_LAW.b;
}

export function surfaceLoss(lr, tokens, batchSize) {
  const d = Math.log(lr / etaStar(tokens, batchSize));
  return 3 + 0.2 * d * d + 0.002 * Math.sin(1000 * Math.log(lr));
}

async function main() {
  process.on("SIGTERM", () => {
    process.stdout.write(`${JSON.stringify({ type: "result", status: "aborted", checkpointSaved: false })}\n`);
    process.exit(0);
  });
  let input = "";
  for await (const chunk of process.stdin) input += chunk;
  const { config } = JSON.parse(input);
  const lr = config.schedule.lr;
  const base = { type: "result", tokensSeen: config.tokens, steps: 1, tokensPerSecond: 1e6, wallSeconds: 0.001 };
  if (lr > DIVERGE_ABOVE) {
    const r = { ...base, status: "diverged", trainLoss: null, testLoss: null, testPerplexity: null };
    process.stdout.write(`${JSON.stringify({ ...r, reason: "loss surface: lr too high" })}\n`);
    return;
  }
  const loss = surfaceLoss(lr, config.tokens, config.batchSize);
  const r = { ...base, status: "succeeded", trainLoss: loss, testLoss: loss, testPerplexity: Math.exp(loss) };
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
