/**
 * System: the /metrics of real running nodes (a hub and the clients of a key pair, started by the
 * CLI, default topology, ports 19700-19709) pass `promtool check metrics` (Prometheus's own
 * linter: counters end in `_total`, HELP and TYPE present, units as suffixes, no bad names).
 * Scraped after traffic: a key pair, refused callers and made-up SAE names, so that every
 * labelled series exists. promtool comes with Debian's `prometheus` (scripts/install-system-deps.sh).
 */
import { spawnSync } from "node:child_process";
import { keyPair, SystemTopology, SYSTEM_TIMEOUT } from "./harness";
import { nodeBaseUrl, type NodeSpec } from "../../src/topology";

jest.setTimeout(SYSTEM_TIMEOUT);

const t = new SystemTopology(19700);

/** promtool, or a failure naming the script that installs it. */
function promtool(): string {
  const which = spawnSync("sh", ["-c", "command -v promtool"], { encoding: "utf8" });
  const found = which.stdout.trim();
  if (which.status !== 0 || found === "") {
    throw new Error("promtool not found: run scripts/install-system-deps.sh (Debian package prometheus)");
  }
  return found;
}

beforeAll(async () => {
  const r = await t.cli("start");
  if (r.code !== 0) throw new Error(`start failed: ${r.stderr}`);
}, SYSTEM_TIMEOUT);

afterAll(async () => {
  await t.cli("stop");
}, SYSTEM_TIMEOUT);

/** The node's whole /metrics (app root: with the process metrics of the bin). */
async function scrape(node: NodeSpec): Promise<string> {
  const res = await t.http.get(`${new URL(nodeBaseUrl(node)).origin}/metrics`, { responseType: "text", headers: t.operatorHeaders() });
  expect(res.status).toBe(200);
  return String(res.data);
}

test("promtool check metrics is clean on a hub and on both clients of a key pair, after traffic", async () => {
  const bin = promtool();
  // The check is live: a counter without `_total` is refused.
  const bad = spawnSync(bin, ["check", "metrics"], {
    input: "# HELP x_bytes Bytes.\n# TYPE x_bytes counter\nx_bytes 1\n",
    encoding: "utf8",
  });
  expect(bad.status).toBe(3);
  expect(bad.stdout + bad.stderr).toContain('counter metrics should have "_total" suffix');
  const run = await keyPair(t, "sam", "sunny", { number: 2 });
  expect(run.dec.sunny).toEqual(run.enc);
  const master = t.kmeOf("sam");
  // A refused caller (401) and a made-up slave SAE (400): counted, under bounded labels.
  expect((await t.http.post(t.etsiUrl(master, "sunny", "enc_keys"), {}, { headers: { Authorization: "nobody" } })).status).toBe(401);
  expect((await t.http.post(t.etsiUrl(master, "junk-sae", "enc_keys"), {}, { headers: { Authorization: "sam" } })).status).toBe(400);
  expect((await t.http.get(`${nodeBaseUrl(master)}/metrics`)).status).toBe(401);

  const hub = t.topology.nodes.find((n) => n.kind === "hub");
  if (!hub) throw new Error("the default topology has no hub");
  for (const node of [hub, master, t.kmeOf("sunny")]) {
    const text = await scrape(node);
    // The scrape holds the figures the check is about.
    expect(text).toMatch(new RegExp(`^dske_build_info\\{version="[^"]+",kind="${node.kind}"\\} 1$`, "m"));
    expect(text).toMatch(/^dske_psrd_consumed_bytes_total\{/m);
    expect(text).toMatch(/^process_resident_memory_bytes /m);
    if (node === master) expect(text).toMatch(/^dske_keys_established_total\{master_sae="sam",slave_sae="sunny"\} 2$/m);
    const check = spawnSync(bin, ["check", "metrics"], { input: text, encoding: "utf8" });
    expect({ node: node.name, status: check.status, out: check.stdout + check.stderr }).toEqual({ node: node.name, status: 0, out: "" });
  }
});
