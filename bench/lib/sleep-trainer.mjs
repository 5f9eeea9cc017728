// An exec trainer (docs/exec-protocol.md) that trains nothing: it sleeps SLEEP_TRAINER_MS
// (default 1000) and reports a made-up loss that depends on the lr, so a fit has a minimum.
// The load benchmark uses it to have workers report results without taking the CPU from the API.
let input = "";
let aborted = false;
process.on("SIGTERM", () => {
  aborted = true;
});
process.stdin.on("data", (d) => {
  input += d;
});
process.stdin.on("end", async () => {
  const { config } = JSON.parse(input);
  const ms = Number(process.env.SLEEP_TRAINER_MS ?? 1000);
  await new Promise((r) => setTimeout(r, ms));
  if (aborted) {
    console.log(JSON.stringify({ type: "result", status: "aborted", tokensSeen: 0, steps: 0, checkpointSaved: false }));
    return;
  }
  const lr = config.schedule.lr ?? 0.01;
  const loss = 3 + 0.05 * Math.log(lr / 0.01) ** 2 - 0.1 * Math.log10(config.tokens);
  console.log(
    JSON.stringify({
      type: "result",
      status: "succeeded",
      trainLoss: loss,
      testLoss: loss,
      testPerplexity: Math.exp(loss),
      tokensSeen: config.tokens,
      steps: 1,
      tokensPerSecond: config.tokens / (ms / 1000),
      wallSeconds: ms / 1000,
      backend: "sleep",
    }),
  );
});
