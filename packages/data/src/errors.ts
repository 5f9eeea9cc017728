/** A corpus, tokenizer or loader option the user can fix; the message names the offending input. */
export class DataError extends Error {
  override name = "DataError";
}
