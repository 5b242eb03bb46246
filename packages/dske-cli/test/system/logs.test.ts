/**
 * System: structured per-node logs never carry key or PSRD bytes, and every node serves its
 * observability endpoints. Real processes via the CLI (default topology, base port 18750).
 *
 * PSRD: the pools' data files are snapshotted after start (before any key: the bytes the key
 * pairs will consume are still in them) and again afterwards (blocks delivered by refills); keys:
 * every value delivered over ETSI (number 1 and 5, a multicast). Then every node log file, PSRD
 * audit log and client key journal is scanned (secret-scan.ts; test/secret-scan.test.ts proves it
 * finds planted secrets).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { keyPair, SystemTopology, SYSTEM_TIMEOUT, type EtsiKey } from "./harness";
import { addPsrdSnapshot, findFiles, SecretCorpus } from "./secret-scan";
import { nodeBaseUrl } from "../../src/topology";

jest.setTimeout(SYSTEM_TIMEOUT);

const t = new SystemTopology(18750);
const corpus = new SecretCorpus();
const delivered: EtsiKey[] = [];

beforeAll(async () => {
  const r = await t.cli("start");
  if (r.code !== 0) throw new Error(`start failed: ${r.stderr}`);
  expect(addPsrdSnapshot(corpus, t.stateDir, "after start")).toBeGreaterThan(0);
}, SYSTEM_TIMEOUT);

afterAll(async () => {
  await t.cli("stop");
}, SYSTEM_TIMEOUT);

test("key pairs (1 key, 5 keys, multicast) through ETSI, then no log line carries key or PSRD bytes", async () => {
  const runs = [
    await keyPair(t, "sam", "sunny", { size: 256, number: 1 }),
    await keyPair(t, "serena", "sofia", { size: 128, number: 5 }),
    await keyPair(t, "sam", "sunny", { size: 256, number: 2, additional: ["susan"] }),
  ];
  for (const run of runs) {
    for (const got of Object.values(run.dec)) expect(got).toEqual(run.enc);
    delivered.push(...run.enc);
  }
  expect(delivered).toHaveLength(8);
  addPsrdSnapshot(corpus, t.stateDir, "after keys");
  for (const k of delivered) corpus.add(`key ${k.key_ID}`, Buffer.from(k.key, "base64"));
  // The operator token (sent by start's readiness probes and by status) never reaches a log either.
  corpus.add("operator token", Buffer.from(readFileSync(path.join(t.stateDir, "operator-token"), "utf8").trim(), "hex"));
  expect((await t.cli("status")).code).toBe(0);

  // The corpus is live: it recognises a delivered key and PSRD as they would appear in a line.
  expect(corpus.scanText(JSON.stringify({ msg: `key=${delivered[3].key}` }), "probe").length).toBeGreaterThanOrEqual(1);
  expect(corpus.size).toBeGreaterThan(10_000);

  const logs = findFiles(path.join(t.stateDir, "logs"), (n) => n.endsWith(".log"));
  // Also the PSRD audit logs and the clients' key bookkeeping journals (documented to hold no key
  // values). Not the hubs' state journals: they hold shares, by design.
  const audits = findFiles(path.join(t.stateDir, "nodes"), (n) => n === "psrd-audit.jsonl" || n === "keys.jsonl");
  // One per node, and (processes: shared, the default) the node host's own stdout/stderr.
  for (const n of t.topology.nodes) expect(logs).toContain(path.join(t.stateDir, "logs", `${n.name}.log`));
  expect(logs.length).toBeGreaterThanOrEqual(10);
  expect(audits.filter((f) => f.endsWith("psrd-audit.jsonl")).length).toBeGreaterThanOrEqual(5); // created at first consumption
  expect(audits.some((f) => f.endsWith("keys.jsonl"))).toBe(true);
  let lineCount = 0;
  const findings = [...logs, ...audits].flatMap((f) => {
    const text = readFileSync(f, "utf8");
    lineCount += text.split("\n").length;
    return corpus.scanText(text, path.relative(t.stateDir, f));
  });
  console.log(
    `log scan: ${lineCount} lines in ${logs.length + audits.length} files against ${corpus.secrets} secrets (${corpus.size} 8-byte anchors indexed)`,
  );
  expect(lineCount).toBeGreaterThan(100);
  expect(findings).toEqual([]);

  // The logs are JSON lines (node-logs.test.ts checks every line of every file), with node,
  // request and trace IDs, and keep the readiness line.
  const master = t.kmeOf("sam").name;
  const lines = readFileSync(path.join(t.stateDir, "logs", `${master}.log`), "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(lines.find((l) => l.msg === "listening")).toMatchObject({
    node: master,
    url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) as unknown,
  });
  const enc = lines.find((l) => typeof l.path === "string" && l.path.endsWith("/sunny/enc_keys"));
  expect(enc).toMatchObject({ node: master, kind: "client", method: "POST", status: 200, sae: "sam" });
  expect(typeof enc?.req_id).toBe("string");
  expect(enc?.trace_id).toMatch(/^[0-9a-f]{32}$/);
});

test("every node serves /openapi.json, /docs and /metrics; metrics show the keys", async () => {
  for (const node of t.topology.nodes) {
    const base = nodeBaseUrl(node); // http://127.0.0.1:PORT/{hub|client}/NAME
    const root = new URL(base).origin;
    for (const url of [`${root}/openapi.json`, `${base}/openapi.json`]) {
      const spec = await t.http.get(url);
      expect([url, spec.status]).toEqual([url, 200]);
      expect((spec.data as { openapi: string }).openapi).toBe("3.1.0");
    }
    expect((await t.http.get(`${root}/docs`)).status).toBe(200);
    expect((await t.http.get(`${base}/metrics`, { responseType: "text" })).status).toBe(401); // the operator's only
    const metrics = await t.http.get(`${base}/metrics`, { responseType: "text", headers: t.operatorHeaders() });
    expect(metrics.status).toBe(200);
    expect(String(metrics.data)).toMatch(new RegExp(`^dske_build_info\\{version="[^"]+",kind="${node.kind}"\\} 1$`, "m"));
    expect(String(metrics.data)).toContain("dske_psrd_available_bytes");
  }
  const kme = t.kmeOf("sam");
  const text = String(
    (await t.http.get(`${new URL(nodeBaseUrl(kme)).origin}/metrics`, { responseType: "text", headers: t.operatorHeaders() })).data,
  );
  const m = /dske_keys_established_total\{master_sae="sam",slave_sae="sunny"[^}]*\} (\d+)/.exec(text);
  expect(Number(m?.[1])).toBe(3);
});
