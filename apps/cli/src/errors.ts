// CLI exit codes (documented in README): 0 success, 1 usage, 2 server or validation error.
export const EXIT_USAGE = 1;
export const EXIT_SERVER = 2;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_SERVER,
  ) {
    super(message);
  }
}
