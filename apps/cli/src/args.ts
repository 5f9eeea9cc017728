// Number parsing for CLI flags: errors name the flag.
import { CliError, EXIT_USAGE } from "./errors.ts";

export function num(flag: string, raw: string | undefined, { positive = false, integer = false } = {}): number {
  const v = Number(raw);
  if (raw === undefined || raw === "" || !Number.isFinite(v))
    throw new CliError(`--${flag} must be a number, got "${raw ?? ""}"`, EXIT_USAGE);
  if (positive && v <= 0) throw new CliError(`--${flag} must be > 0, got ${raw}`, EXIT_USAGE);
  if (integer && !Number.isInteger(v)) throw new CliError(`--${flag} must be an integer, got ${raw}`, EXIT_USAGE);
  return v;
}
