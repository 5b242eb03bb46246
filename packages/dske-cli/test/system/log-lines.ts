/**
 * The JSON lines of a node's log text (`.dske/logs/NAME.log`), parsed: for tests that assert on a
 * log line's message and fields. A line that is not a JSON object is skipped.
 */
export type LogLine = Record<string, unknown> & { msg?: unknown };

export function logLines(text: string): LogLine[] {
  const out: LogLine[] = [];
  for (const l of text.split("\n")) {
    if (!l.startsWith("{")) continue;
    try {
      const o = JSON.parse(l) as unknown;
      if (typeof o === "object" && o !== null && !Array.isArray(o)) out.push(o as LogLine);
    } catch {
      // A partly written last line: skipped.
    }
  }
  return out;
}
