/** A failure the CLI reports as one clear message and a non-zero exit code (never a stack trace). */
export class CliError extends Error {
  override readonly name = "CliError";
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
