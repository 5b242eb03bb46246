/**
 * The human format of `dske-cli logs` (without `--json`): one node log line (a JSON object) as
 *
 *   2026-12-03T23:10:00.123Z INFO  hank  request method=POST path=/hub/hank/... status=200 trace_id=...
 *
 * time, level, node, msg, then every other field as key=value (strings with spaces or quotes
 * JSON-quoted, objects as JSON). A line that is not a JSON object is printed unchanged.
 */
const SHOWN_FIRST = new Set(["time", "level", "node", "msg", "kind", "pid", "hostname"]);

export function humanLogLine(line: string): string {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    return line;
  }
  if (typeof o !== "object" || o === null || Array.isArray(o)) return line;
  const rec = o as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === "string" ? v : v === undefined ? "" : JSON.stringify(v));
  const head = [text(rec.time), text(rec.level).toUpperCase().padEnd(5), text(rec.node), text(rec.msg)].filter((s) => s !== "");
  const fields = Object.entries(rec)
    .filter(([k, v]) => !SHOWN_FIRST.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${value(v)}`);
  return [...head, ...fields].join(" ");
}

function value(v: unknown): string {
  if (typeof v === "string") return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v);
}
