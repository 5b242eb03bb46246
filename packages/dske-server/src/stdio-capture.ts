/**
 * Capture what a node process writes to stdout and stderr (a library's warning, Node's own
 * warnings, a stray console line) and hand it on as JSON lines: a chunk that is already JSON lines
 * passes through unchanged; every other chunk becomes one line
 * `{"level":"info"|"error","time","kind","node","stream":"stdout"|"stderr","msg":TEXT}`
 * (stdout info, stderr error; a multi-line text stays one line, its newlines escaped).
 */

/** Replace process.stdout.write / process.stderr.write; returns a function that restores them. */
export function captureStdio(write: (line: string) => void, base: { kind: string; node: string }): () => void {
  const restore: (() => void)[] = [];
  for (const [name, stream, level] of [
    ["stdout", process.stdout, "info"],
    ["stderr", process.stderr, "error"],
  ] as const) {
    const original = stream.write.bind(stream);
    const replacement = (chunk: unknown, encoding?: unknown, cb?: unknown): boolean => {
      const text =
        typeof chunk === "string"
          ? chunk
          : Buffer.isBuffer(chunk) || chunk instanceof Uint8Array
            ? Buffer.from(chunk).toString("utf8")
            : String(chunk);
      const out = asJsonLines(text, { level, stream: name, ...base });
      if (out !== "") write(out);
      const done = typeof encoding === "function" ? encoding : cb;
      if (typeof done === "function") process.nextTick(done);
      return true;
    };
    stream.write = replacement;
    restore.push(() => {
      stream.write = original;
    });
  }
  return () => restore.forEach((r) => r());
}

/** `text` as JSON lines: unchanged when every non-empty line is a JSON object, else one wrapping line. */
export function asJsonLines(text: string, fields: Record<string, string>): string {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  if (lines.length === 0) return "";
  if (lines.every(isJsonObject)) return lines.map((l) => `${l}\n`).join("");
  const { level, ...rest } = fields;
  return `${JSON.stringify({ level, time: new Date().toISOString(), ...rest, msg: text.trimEnd() })}\n`;
}

function isJsonObject(line: string): boolean {
  if (!line.startsWith("{")) return false;
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === "object" && v !== null && !Array.isArray(v);
  } catch {
    return false;
  }
}
