import type { Tokenizer } from "@powersweep/spec";
import { decode as gpt2Decode, encode as gpt2Encode } from "gpt-tokenizer/encoding/r50k_base";
import { DataError } from "./errors.ts";

/** Text placed between documents in a token stream; the model sees document boundaries as a blank line. */
export const DOCUMENT_SEPARATOR = "\n\n";

/** GPT-2 (r50k_base) vocabulary size. */
export const GPT2_VOCAB_SIZE = 50257;

/** A fitted tokenizer: text ↔ ids in [0, vocabSize). */
export interface TextCodec {
  vocabSize: number;
  encode(text: string): number[];
  decode(ids: ArrayLike<number>): string;
  /** Id used for GPT-2 ids outside the kept top-K (gpt2-topk only). */
  unkId?: number;
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8");

/** `byte`: UTF-8 bytes, vocab 256, lossless. */
export const byteCodec: TextCodec = {
  vocabSize: 256,
  encode: (text) => Array.from(utf8Encoder.encode(text)),
  decode: (ids) => utf8Decoder.decode(Uint8Array.from(ids as ArrayLike<number>)),
};

/**
 * `gpt2-topk`: GPT-2 BPE with its 50,257 ids remapped to a small vocabulary fitted on the TRAIN split
 * only (so the test split never influences the vocabulary).
 * vocabSize = topK: ids 0 … topK-2 are the topK-1 most frequent GPT-2 ids in the training documents
 * (ordered by count descending, ties by lower GPT-2 id); id topK-1 is UNK for every other GPT-2 id.
 * Decoding UNK gives U+FFFD.
 */
export function fitGpt2TopK(topK: number, trainTexts: readonly string[]): TextCodec {
  if (!Number.isInteger(topK) || topK < 2 || topK > GPT2_VOCAB_SIZE + 1) {
    throw new DataError(`gpt2-topk: topK must be an integer in [2, ${GPT2_VOCAB_SIZE + 1}] (got ${topK})`);
  }
  const counts = new Float64Array(GPT2_VOCAB_SIZE);
  for (const text of trainTexts) {
    for (const id of gpt2Encode(text)) counts[id] = (counts[id] ?? 0) + 1;
  }
  // The separator appears between training documents in the stream: count it as often.
  for (const id of gpt2Encode(DOCUMENT_SEPARATOR)) counts[id] = (counts[id] ?? 0) + Math.max(0, trainTexts.length - 1);
  const byFrequency = Array.from({ length: GPT2_VOCAB_SIZE }, (_, id) => id)
    .filter((id) => (counts[id] ?? 0) > 0)
    .sort((a, b) => (counts[b] ?? 0) - (counts[a] ?? 0) || a - b);
  const kept = byFrequency.slice(0, topK - 1);
  const unkId = topK - 1;
  const toLocal = new Int32Array(GPT2_VOCAB_SIZE).fill(unkId);
  kept.forEach((gptId, localId) => {
    toLocal[gptId] = localId;
  });
  return {
    vocabSize: topK,
    unkId,
    encode: (text) => gpt2Encode(text).map((id) => toLocal[id] ?? unkId),
    decode: (ids) => {
      let out = "";
      let run: number[] = [];
      const flush = () => {
        if (run.length > 0) out += gpt2Decode(run);
        run = [];
      };
      for (let i = 0; i < ids.length; i++) {
        const local = ids[i] as number;
        const gptId = kept[local];
        if (local === unkId || gptId === undefined) {
          flush();
          out += "\uFFFD";
        } else run.push(gptId);
      }
      flush();
      return out;
    },
  };
}

/** Build the codec a Tokenizer spec names; gpt2-topk is fitted on the training texts. */
export function createCodec(tokenizer: Tokenizer, trainTexts: readonly string[]): TextCodec {
  switch (tokenizer.type) {
    case "byte":
      return byteCodec;
    case "gpt2-topk":
      return fitGpt2TopK(tokenizer.topK, trainTexts);
    default:
      throw new DataError(`unknown tokenizer type ${JSON.stringify((tokenizer as { type: unknown }).type)}`);
  }
}
