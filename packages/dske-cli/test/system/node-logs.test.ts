/**
 * System: the nodes' logs as an operator uses them (issue 16, "Logs"). The default topology on
 * ports 19720-19729, started with the BUILT CLI with a small rotation size
 * (`start --log-max-size 24K --log-max-files 3`), then:
 *  - one enc_keys call is followed across nodes by its W3C trace ID (its own `traceparent`, and a
 *    new trace without one): the client's request line and every hub's share-post line carry it;
 *  - `status` polled N times reaches every node (its metrics count the calls) but adds no info
 *    line to a log (routine polling is logged at debug);
 *  - `dske-cli logs NAME` (-n, --json, the human format, an unknown node) and `logs -f`, which
 *    prints the line of a key request made after it started, and ends on SIGINT;
 *  - traffic until logs rotate: rotated files appear, at most --log-max-files of them;
 *  - every line of every log file (rotated ones too) is one JSON object, for JSON.parse and
 *    `jq -c .` (jq: scripts/install-system-deps.sh);
 *  - `dske-cli --version` / `-V` print the package version.
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { BIN, eventually, keyPair, SystemTopology, SYSTEM_TIMEOUT } from "./harness";
import { nodeBaseUrl } from "../../src/topology";

jest.setTimeout(SYSTEM_TIMEOUT);

const MAX_SIZE = 24 * 1024;
const MAX_FILES = 3;
const t = new SystemTopology(19720);
const logsDir = () => path.join(t.stateDir, "logs");

type Line = Record<string, unknown>;

/** Every line of a node's current log, parsed (a line that is not JSON fails the test that reads it). */
function linesOf(name: string): Line[] {
  return readFileSync(path.join(logsDir(), `${name}.log`), "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Line);
}

const hubs = () => t.topology.hubs.map((h) => h.name);

beforeAll(async () => {
  const r = await t.bin("start", "--log-max-size", "24K", "--log-max-files", String(MAX_FILES));
  if (r.code !== 0) throw new Error(`start failed: ${r.stderr}`);
}, SYSTEM_TIMEOUT);

afterAll(async () => {
  await t.cli("stop");
}, SYSTEM_TIMEOUT);

test("one enc_keys call is followed by its trace ID from the client to every hub's share post", async () => {
  const kme = t.kmeOf("sam");
  // With the caller's traceparent: its trace ID is kept.
  const traceId = randomBytes(16).toString("hex");
  const traceparent = `00-${traceId}-${randomBytes(8).toString("hex")}-01`;
  const withParent = await t.http.post(t.etsiUrl(kme, "sunny", "enc_keys"), {}, { headers: { Authorization: "sam", traceparent } });
  expect(withParent.status).toBe(200);
  // Without one: the client starts a trace, and its ID reaches the hubs too.
  const without = await t.http.post(t.etsiUrl(kme, "sunny", "enc_keys"), {}, { headers: { Authorization: "sam" } });
  expect(without.status).toBe(200);
  const requestLine = (reqId: unknown) => linesOf(kme.name).find((l) => l.msg === "request" && l.req_id === reqId);
  let clientLines: (Line | undefined)[] = [];
  await eventually("the client logged both requests", () => {
    clientLines = [withParent, without].map((r) => requestLine(r.headers["x-request-id"]));
    return Promise.resolve(clientLines.every((l) => l !== undefined));
  });
  expect(clientLines[0]).toMatchObject({ kind: "client", node: kme.name, method: "POST", status: 200, sae: "sam", trace_id: traceId });
  const newTrace = clientLines[1]?.trace_id;
  expect(newTrace).toMatch(/^[0-9a-f]{32}$/);
  expect(newTrace).not.toBe(traceId);
  for (const trace of [traceId, newTrace]) {
    await eventually(`every hub logged a share post of trace ${String(trace)}`, () =>
      Promise.resolve(
        hubs().every((h) =>
          linesOf(h).some(
            (l) => l.trace_id === trace && l.msg === "request" && l.method === "POST" && String(l.path).includes("key-share"),
          ),
        ),
      ),
    );
  }
  // One message format: hub and client request lines carry the same fields.
  const hubLine = linesOf(hubs()[0]).find((l) => l.trace_id === traceId && l.msg === "request");
  const fields = ["level", "time", "kind", "node", "req_id", "trace_id", "method", "path", "status", "duration_ms", "msg"];
  for (const line of [hubLine, clientLines[0]]) expect(Object.keys(line ?? {})).toEqual(expect.arrayContaining(fields));
});

test("status polled N times reaches every node but adds no info line (routine polling is at debug)", async () => {
  const N = 5;
  const statusCalls = async (name: string): Promise<number> => {
    const node = t.node(name);
    const res = await t.http.get(`${nodeBaseUrl(node)}/metrics`, { responseType: "text", headers: t.operatorHeaders() });
    const re = /^dske_http_requests_total\{([^}]*)\} (\d+)$/gm;
    let sum = 0;
    for (const m of String(res.data).matchAll(re))
      if (/route="get(Hub|Client)Status"/.test(m[1]) && /status="200"/.test(m[1])) sum += Number(m[2]);
    return sum;
  };
  const names = t.topology.nodes.map((n) => n.name);
  const before = await Promise.all(names.map(statusCalls));
  for (let i = 0; i < N; i++) expect((await t.bin("status")).code).toBe(0);
  const after = await Promise.all(names.map(statusCalls));
  names.forEach((_, i) => expect(after[i] - before[i]).toBeGreaterThanOrEqual(N));
  for (const name of names) {
    const polls = linesOf(name).filter((l) => typeof l.path === "string" && l.path.includes("/mgmt/") && l.method === "GET");
    expect([name, polls]).toEqual([name, []]);
  }
});

test("dske-cli logs NAME: last N lines, --json passthrough, human format, unknown node", async () => {
  const json = await t.bin("logs", "carol", "-n", "5", "--json");
  expect(json.code).toBe(0);
  expect(json.out).toHaveLength(5);
  for (const l of json.out) expect(JSON.parse(l)).toMatchObject({ node: "carol", kind: "client" });
  const human = await t.bin("logs", "hank", "-n", "3");
  expect(human.code).toBe(0);
  expect(human.out).toHaveLength(3);
  for (const l of human.out) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO |WARN |ERROR|DEBUG|FATAL) hank \S/);
  const unknown = await t.bin("logs", "nobody");
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toContain(`no node 'nobody' in ${t.configFile}`);
  expect(unknown.stderr).toContain("hank");
});

test("dske-cli logs -f prints the line of a key request made after it started, until SIGINT", async () => {
  const kme = t.kmeOf("sam");
  const child = spawn(
    process.execPath,
    [BIN, "--config", t.configFile, "--state-dir", t.stateDir, "logs", kme.name, "-f", "-n", "1", "--json"],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  try {
    await eventually("logs -f printed the last line", () => Promise.resolve(out.includes("\n")));
    const traceId = randomBytes(16).toString("hex");
    const traceparent = `00-${traceId}-${randomBytes(8).toString("hex")}-01`;
    const r = await t.http.post(t.etsiUrl(kme, "sunny", "enc_keys"), {}, { headers: { Authorization: "sam", traceparent } });
    expect(r.status).toBe(200);
    await eventually("logs -f printed the request's line", () => Promise.resolve(out.includes(traceId)));
    const line = out.split("\n").find((l) => l.includes(traceId) && l.includes('"msg":"request"'));
    expect(JSON.parse(line ?? "{}")).toMatchObject({ node: kme.name, status: 200, trace_id: traceId });
  } finally {
    child.kill("SIGINT");
  }
  expect(await exited).toBe(0);
});

test("logs rotate by size: rotated files appear, at most --log-max-files of them", async () => {
  const names = ["carol", ...hubs()];
  const rotated = (name: string) => readdirSync(logsDir()).filter((f) => f.startsWith(`${name}.log.`));
  await eventually(
    "carol's and every hub's log rotated",
    async () => {
      await keyPair(t, "sam", "sunny", { number: 5 });
      return names.every((n) => rotated(n).length > 0);
    },
    90_000,
    0,
  );
  for (const n of names) {
    const files = rotated(n);
    expect(files.every((f) => /\.log\.[1-9]\d*$/.test(f))).toBe(true);
    expect(files.length).toBeLessThanOrEqual(MAX_FILES);
    // A file is rotated when the next write would exceed the size: it holds at most the size plus one write.
    for (const f of files) expect(statSync(path.join(logsDir(), f)).size).toBeLessThan(MAX_SIZE + 16 * 1024);
  }
});

test("every line of every log file (rotated ones too) is one JSON object: JSON.parse and jq -c .", () => {
  const files = readdirSync(logsDir()).filter((f) => /\.log(\.\d+)?$/.test(f));
  expect(files.length).toBeGreaterThan(10); // 10 nodes and rotated files
  let lines = 0;
  for (const f of files) {
    const file = path.join(logsDir(), f);
    for (const l of readFileSync(file, "utf8")
      .split("\n")
      .filter((x) => x !== "")) {
      let parsed: unknown;
      expect(() => {
        parsed = JSON.parse(l) as unknown;
      }).not.toThrow();
      expect([f, typeof parsed, Array.isArray(parsed)]).toEqual([f, "object", false]);
      const rec = parsed as Record<string, unknown>;
      expect([f, typeof rec.level, typeof rec.time, typeof rec.node]).toEqual([f, "string", "string", "string"]);
      lines++;
    }
    const jq = spawnSync("jq", ["-c", ".", file], { encoding: "utf8" });
    if (jq.error) throw new Error(`jq is not installed (scripts/install-system-deps.sh installs it): ${jq.error.message}`);
    expect([f, jq.status, jq.stderr]).toEqual([f, 0, ""]);
  }
  console.log(`node logs: ${lines} lines in ${files.length} files, every one JSON`);
});

test("dske-cli --version and -V print the package version", async () => {
  const pkg = JSON.parse(readFileSync(path.join(__dirname, "../../package.json"), "utf8")) as { version: string };
  for (const flag of ["--version", "-V"]) {
    const r = await t.bin(flag);
    expect([flag, r.code, r.stdout.trim()]).toEqual([flag, 0, pkg.version]);
  }
});

test("start --log-max-size / --log-max-files: a bad value is refused naming the option and the fix", async () => {
  const size = await t.cli("start", "--log-max-size", "big");
  expect(size.code).toBe(2);
  expect(size.stderr).toContain("--log-max-size 'big': expected a size like 10M");
  const files = await t.cli("start", "--log-max-files", "0");
  expect(files.code).toBe(2);
  expect(files.stderr).toContain("--log-max-files '0': expected a number of rotated log files (an integer from 1 to 1000)");
});
