// From what the orchestrator returns to the contract's types. The orchestrator's rows carry
// Dates (sent as ISO strings), enum columns as plain strings, and a trial's config as an untyped
// JSON column; `wire` accepts exactly that loosening of the contract's shape and types the value
// as the contract declares it. Field names and nesting are checked at compile time, enum values
// and the config at run time (the API tests serialise strictly). Nothing is copied.
import type { Static, TSchema } from "@sinclair/typebox";

/** The contract's type with strings loosened (enum columns, Dates) and `config` untyped. */
export type Loose<T> = T extends string
  ? string | Date
  : T extends Array<infer U>
    ? Loose<U>[]
    : T extends object
      ? { [K in keyof T]: K extends "config" ? unknown : Loose<T[K]> }
      : T;

export function wire<S extends TSchema>(_schema: S, value: Loose<Static<S>>): Static<S> {
  return value as Static<S>;
}
