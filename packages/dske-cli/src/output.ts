/** Where the CLI writes: stdout lines and stderr lines (injectable, so tests capture them). */
export interface Output {
  line(text: string): void;
  error(text: string): void;
}

export const consoleOutput: Output = {
  line: (text) => process.stdout.write(`${text}\n`),
  error: (text) => process.stderr.write(`${text}\n`),
};

/** An Output that records everything (tests, and callers that want the text). */
export class CapturedOutput implements Output {
  readonly lines: string[] = [];
  readonly errors: string[] = [];
  line(text: string): void {
    this.lines.push(text);
  }
  error(text: string): void {
    this.errors.push(text);
  }
  get stdout(): string {
    return this.lines.map((l) => `${l}\n`).join("");
  }
  get stderr(): string {
    return this.errors.map((l) => `${l}\n`).join("");
  }
}
