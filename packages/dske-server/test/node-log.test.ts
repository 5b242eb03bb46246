/**
 * The node log file (node-log.ts): JSON lines from pino and from whatever the process writes to
 * stdout/stderr, rotated by size into FILE.1 ... FILE.N; the traceparent parser of the request
 * context (@dske/protocol trace-context.ts).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseTraceparent, traceFor } from "@dske/protocol";
import { asJsonLines, logConfigOf, openNodeLog } from "../src/index";
import { FLUSH_MS } from "../src/node-log";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tempDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), "dske-node-log-"));
  dirs.push(d);
  return d;
};
const jsonLines = (file: string) =>
  readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);

test("a log file of JSON lines: pino lines, and stdout/stderr text captured as JSON; rotated by size", async () => {
  const dir = tempDir();
  const file = path.join(dir, "hank.log");
  const log = openNodeLog({ kind: "hub", name: "hank", log: { file, maxSize: "2K", maxFiles: 2 }, handleUncaught: false });
  try {
    // Lines reach the file in one write per FLUSH_MS: spread over a few of those, as a serving node
    // writes them, they make several chunks, each bigger than maxSize.
    for (let i = 0; i < 100; i++) {
      log.logger.info({ i, pad: "x".repeat(100) }, "filler");
      if (i % 25 === 24) await new Promise((r) => setTimeout(r, FLUSH_MS + 5));
    }
    log.logger.info({ url: "http://127.0.0.1:1" }, "listening");
    process.stderr.write("a library's warning\n  with a second line\n");
    process.stdout.write(`${JSON.stringify({ level: "info", msg: "already json" })}\n`);
    log.logger.debug("hidden at the default level");
  } finally {
    await log.close();
  }
  const files = readdirSync(dir).sort();
  expect(files).toEqual(["hank.log", "hank.log.1", "hank.log.2"]); // two rotated files kept
  const all = files.flatMap((f) => jsonLines(path.join(dir, f)));
  expect(all.every((l) => typeof l.level === "string")).toBe(true);
  expect(all.find((l) => l.msg === "hidden at the default level")).toBeUndefined();
  const newest = jsonLines(file);
  expect(newest.slice(-3)).toEqual([
    expect.objectContaining({ level: "info", kind: "hub", node: "hank", url: "http://127.0.0.1:1", msg: "listening" }),
    expect.objectContaining({ level: "error", stream: "stderr", node: "hank", msg: "a library's warning\n  with a second line" }),
    { level: "info", msg: "already json" },
  ]);
});

test("stdout/stderr text as JSON lines; JSON lines pass unchanged", () => {
  const wrapped = asJsonLines("boom\n  at x\n", { level: "error", stream: "stderr", kind: "client", node: "carol" });
  expect(JSON.parse(wrapped)).toMatchObject({ level: "error", stream: "stderr", node: "carol", msg: "boom\n  at x" });
  expect(wrapped.endsWith("\n")).toBe(true);
  expect(asJsonLines('{"a":1}\n{"b":2}\n', { level: "info" })).toBe('{"a":1}\n{"b":2}\n');
  expect(asJsonLines("\n", { level: "info" })).toBe("");
});

test("log options: checked with the option and the fix named", () => {
  const usage = (m: string) => new Error(m);
  expect(logConfigOf({ logFile: "n.log", logMaxSize: "1M", logMaxFiles: "3" }, usage)).toEqual({
    file: "n.log",
    maxSize: "1M",
    maxFiles: 3,
  });
  expect(() => logConfigOf({ logMaxSize: "10 MB" }, usage)).toThrow(/--log-max-size "10 MB": expected a size like 10M/);
  expect(() => logConfigOf({ logMaxFiles: "0" }, usage)).toThrow(/--log-max-files "0": expected an integer from 1 to 1000/);
  expect(() => logConfigOf({ logLevel: "loud" }, usage)).toThrow(/--log-level "loud": expected one of fatal, error/);
});

test("traceparent: a valid one continues its trace, others start a new one", () => {
  const trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  expect(parseTraceparent(`00-${trace}-00f067aa0ba902b7-01`)).toEqual({ traceId: trace, parentId: "00f067aa0ba902b7" });
  expect(traceFor(`00-${trace}-00f067aa0ba902b7-01`).traceId).toBe(trace);
  for (const bad of [
    undefined,
    "",
    `ff-${trace}-00f067aa0ba902b7-01`, // version ff is invalid
    `00-${"0".repeat(32)}-00f067aa0ba902b7-01`, // all-zero trace ID
    `00-${trace}-${"0".repeat(16)}-01`, // all-zero parent
    `00-${trace}-00f067aa0ba902b7-01-extra`, // version 00 has nothing after the flags
    `00-${trace.toUpperCase()}-00f067aa0ba902b7-01`,
  ]) {
    expect([bad, parseTraceparent(bad)]).toEqual([bad, undefined]);
    const t = traceFor(bad);
    expect(t.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(t.spanId).toMatch(/^[0-9a-f]{16}$/);
  }
  expect(parseTraceparent(`01-${trace}-00f067aa0ba902b7-01-future`)?.traceId).toBe(trace); // later versions may add fields
});
