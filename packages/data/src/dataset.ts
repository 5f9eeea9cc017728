import type { Corpus, Tokenizer } from "@powersweep/spec";
import { readDataFile } from "./access.ts";
import { loadDocumentSplit, type TextDocument } from "./corpus.ts";
import { DataError } from "./errors.ts";
import { createCodec, DOCUMENT_SEPARATOR, type TextCodec } from "./tokenizer.ts";

/** A token stream: Uint16Array when vocabSize ≤ 65,536, else Int32Array. */
export type TokenStream = Uint16Array | Int32Array;

export interface DatasetDescription {
  corpus: Corpus["type"];
  tokenizer: Tokenizer["type"];
  vocabSize: number;
  trainTokens: number;
  testTokens: number;
  /** Number of training documents (files for text-files; 1 per file for token-file). */
  trainDocuments: number;
  /** Ids of the held-out documents (SOTU file stems, text-file paths, or the token-file test path). */
  testDocuments: string[];
  /** Fraction of tokens mapped to UNK (gpt2-topk only). */
  trainUnkFraction?: number;
  testUnkFraction?: number;
}

export interface Dataset {
  vocabSize: number;
  /** Training token stream: train documents joined by DOCUMENT_SEPARATOR. */
  train: TokenStream;
  /** Held-out token stream: whole test documents only, joined by DOCUMENT_SEPARATOR. */
  test: TokenStream;
  /** Ids → text (not available for token-file corpora, which have no tokenizer). */
  decode?: (ids: ArrayLike<number>) => string;
  describe(): DatasetDescription;
}

export interface DatasetSpec {
  corpus: Corpus;
  tokenizer?: Tokenizer;
}

function allocate(vocabSize: number, length: number): TokenStream {
  return vocabSize <= 65536 ? new Uint16Array(length) : new Int32Array(length);
}

/** Encode each document and join with the separator (between documents, not after the last). */
function encodeDocuments(codec: TextCodec, docs: readonly TextDocument[]): TokenStream {
  const separator = codec.encode(DOCUMENT_SEPARATOR);
  const encoded = docs.map((d) => codec.encode(d.text));
  const length = encoded.reduce((n, ids) => n + ids.length, 0) + separator.length * Math.max(0, docs.length - 1);
  const stream = allocate(codec.vocabSize, length);
  let at = 0;
  encoded.forEach((ids, i) => {
    if (i > 0) {
      stream.set(separator, at);
      at += separator.length;
    }
    stream.set(ids, at);
    at += ids.length;
  });
  return stream;
}

function unkFraction(stream: TokenStream, unkId: number): number {
  let unk = 0;
  for (let i = 0; i < stream.length; i++) if (stream[i] === unkId) unk++;
  return stream.length === 0 ? 0 : unk / stream.length;
}

async function loadTextDataset(
  corpus: Exclude<Corpus, { type: "token-file" }>,
  tokenizer: Tokenizer,
): Promise<Dataset> {
  const split = await loadDocumentSplit(corpus);
  const codec = createCodec(
    tokenizer,
    split.train.map((d) => d.text),
  );
  const train = encodeDocuments(codec, split.train);
  const test = encodeDocuments(codec, split.test);
  if (train.length < 2) throw new DataError(`${corpus.type}: the training documents contain fewer than 2 tokens`);
  if (test.length < 2) throw new DataError(`${corpus.type}: the held-out documents contain fewer than 2 tokens`);
  const description: DatasetDescription = {
    corpus: corpus.type,
    tokenizer: tokenizer.type,
    vocabSize: codec.vocabSize,
    trainTokens: train.length,
    testTokens: test.length,
    trainDocuments: split.train.length,
    testDocuments: split.test.map((d) => d.id),
  };
  if (codec.unkId !== undefined) {
    description.trainUnkFraction = unkFraction(train, codec.unkId);
    description.testUnkFraction = unkFraction(test, codec.unkId);
  }
  return {
    vocabSize: codec.vocabSize,
    train,
    test,
    decode: codec.decode,
    describe: () => ({ ...description, testDocuments: [...description.testDocuments] }),
  };
}

/**
 * Read a little-endian uint16/uint32 token file (inside DATA_ROOTS) and check every id is <
 * vocabSize.
 */
export async function readTokenFile(path: string, dtype: "uint16" | "uint32", vocabSize: number): Promise<TokenStream> {
  const bytes = await readDataFile(path, "token-file");
  const width = dtype === "uint16" ? 2 : 4;
  if (bytes.byteLength % width !== 0) {
    throw new DataError(`token-file: ${path} has ${bytes.byteLength} bytes, not a multiple of ${width} (${dtype})`);
  }
  const length = bytes.byteLength / width;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stream = allocate(vocabSize, length);
  for (let i = 0; i < length; i++) {
    const id = width === 2 ? view.getUint16(i * 2, true) : view.getUint32(i * 4, true);
    if (id >= vocabSize) {
      // the message never carries an id: an id is bytes of the file
      throw new DataError(
        `token-file: ${path} holds ids not below vocabSize ${vocabSize} (not a ${dtype} token file?)`,
      );
    }
    stream[i] = id;
  }
  return stream;
}

async function loadTokenFileDataset(
  corpus: Extract<Corpus, { type: "token-file" }>,
  tokenizer: Tokenizer,
): Promise<Dataset> {
  if (tokenizer.type !== "byte") {
    throw new DataError(
      `token-file corpora are already tokenised; tokenizer ${tokenizer.type} cannot apply (leave the default "byte")`,
    );
  }
  if (!Number.isInteger(corpus.vocabSize) || corpus.vocabSize < 2) {
    throw new DataError(`token-file: vocabSize must be an integer ≥ 2 (got ${corpus.vocabSize})`);
  }
  if (corpus.trainPath === corpus.testPath) {
    throw new DataError(
      `token-file: trainPath and testPath are the same file (${corpus.trainPath}); the test split must be held out`,
    );
  }
  const [train, test] = await Promise.all([
    readTokenFile(corpus.trainPath, corpus.dtype, corpus.vocabSize),
    readTokenFile(corpus.testPath, corpus.dtype, corpus.vocabSize),
  ]);
  if (train.length < 2) throw new DataError(`token-file: ${corpus.trainPath} holds fewer than 2 tokens`);
  if (test.length < 2) throw new DataError(`token-file: ${corpus.testPath} holds fewer than 2 tokens`);
  const description: DatasetDescription = {
    corpus: "token-file",
    tokenizer: "byte",
    vocabSize: corpus.vocabSize,
    trainTokens: train.length,
    testTokens: test.length,
    trainDocuments: 1,
    testDocuments: [corpus.testPath],
  };
  return {
    vocabSize: corpus.vocabSize,
    train,
    test,
    describe: () => ({ ...description, testDocuments: [...description.testDocuments] }),
  };
}

/** JSON with sorted keys, so `{a, b}` and `{b, a}` share a cache entry. */
function canonicalKey(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}

const cache = new Map<string, Promise<Dataset>>();

/**
 * Load (and cache in-process) the train/test token streams for a corpus and tokenizer.
 * Trainers call this for every trial: the same (corpus, tokenizer) returns the same Dataset object,
 * whose streams must be treated as read-only. Files are read once per process; call
 * `clearDatasetCache()` if they change on disk. Failed loads are not cached.
 */
export function loadDataset(spec: DatasetSpec): Promise<Dataset> {
  const tokenizer: Tokenizer = spec.tokenizer ?? { type: "byte" };
  const key = canonicalKey({ corpus: spec.corpus, tokenizer });
  let dataset = cache.get(key);
  if (!dataset) {
    dataset =
      spec.corpus.type === "token-file"
        ? loadTokenFileDataset(spec.corpus, tokenizer)
        : spec.corpus.type === "sotu" || spec.corpus.type === "text-files"
          ? loadTextDataset(spec.corpus, tokenizer)
          : Promise.reject(
              new DataError(`unknown corpus type ${JSON.stringify((spec.corpus as { type: unknown }).type)}`),
            );
    cache.set(key, dataset);
    dataset.catch(() => cache.delete(key));
  }
  return dataset;
}

export function clearDatasetCache(): void {
  cache.clear();
}
