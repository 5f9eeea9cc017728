export { corpusAccessProblems, corpusFiles, dataFileProblem, dataRootsFromEnv, readDataFile } from "./access.ts";
export {
  type Batch,
  type BatchLoader,
  type BatchLoaderOptions,
  createBatchLoader,
  EVAL_SUBSET_EVERY,
  type EvalBatch,
  type EvalOptions,
  type EvalWindow,
  evalBatches,
  evalSubset,
  evalWindows,
  type LoaderState,
} from "./batches.ts";
export {
  type DocumentSplit,
  loadDocumentSplit,
  loadSotuDocuments,
  SOTU_TEST_EVERY,
  SOTU_TEST_OFFSET,
  splitTextFilePaths,
  type TextCorpus,
  type TextDocument,
} from "./corpus.ts";
export {
  clearDatasetCache,
  type Dataset,
  type DatasetDescription,
  type DatasetSpec,
  loadDataset,
  readTokenFile,
  type TokenStream,
} from "./dataset.ts";
export { DataError } from "./errors.ts";
export { fnv1a, mixSeed, mulberry32 } from "./random.ts";
export {
  byteCodec,
  createCodec,
  DOCUMENT_SEPARATOR,
  fitGpt2TopK,
  GPT2_VOCAB_SIZE,
  type TextCodec,
} from "./tokenizer.ts";
