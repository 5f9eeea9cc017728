// Data side: how long a trial waits for its dataset (first load, then cached) and how fast batches come.
import { clearDatasetCache, createBatchLoader, evalBatches, loadDataset } from "@powersweep/data";

async function timed<T>(f: () => Promise<T> | T): Promise<[T, number]> {
  const started = performance.now();
  const value = await f();
  return [value, performance.now() - started];
}

export async function run(): Promise<Record<string, unknown>> {
  clearDatasetCache();
  const [bytes, sotuByteLoadMs] = await timed(() => loadDataset({ corpus: { type: "sotu" } }));
  const [, sotuByteCachedMs] = await timed(() => loadDataset({ corpus: { type: "sotu" } }));
  const [gpt2, sotuGpt2Top8192LoadMs] = await timed(() =>
    loadDataset({ corpus: { type: "sotu" }, tokenizer: { type: "gpt2-topk", topK: 8192 } }),
  );

  const batchSize = 32;
  const seqLen = 256;
  const batches = 2000;
  const loader = createBatchLoader(bytes.train, { batchSize, seqLen, seed: 0 });
  const [, loaderMs] = await timed(() => {
    for (let i = 0; i < batches; i++) loader.next();
  });
  const [, evalMs] = await timed(() => evalBatches(bytes.test, { evalTokens: 1_000_000, seqLen, batchSize }));

  const g = gpt2.describe();
  return {
    sotuByteLoadMs: Math.round(sotuByteLoadMs),
    sotuByteCachedMs: Number(sotuByteCachedMs.toFixed(3)),
    sotuByteTrainTokens: bytes.train.length,
    sotuByteTestTokens: bytes.test.length,
    sotuGpt2Top8192LoadMs: Math.round(sotuGpt2Top8192LoadMs),
    sotuGpt2Top8192TrainTokens: g.trainTokens,
    sotuGpt2Top8192TestTokens: g.testTokens,
    sotuGpt2Top8192TestUnkFraction: Number(g.testUnkFraction?.toFixed(4)),
    loaderTokensPerSecond: Math.round((batches * batchSize * seqLen) / (loaderMs / 1000)),
    loaderBatchMs: Number((loaderMs / batches).toFixed(4)),
    evalBatches1MTokensMs: Math.round(evalMs),
  };
}
