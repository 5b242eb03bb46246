/**
 * System: a topology whose nodes name their host and port (two "hosts" on loopback: 127.0.0.1 and
 * localhost) and a client on a subset of the hubs with its own min_nr_shares. Started through the
 * CLI, keys between the two clients with different subsets through the built `dske-cli etsi-qkd`,
 * status, stop; then `start --on localhost` starting only that host's nodes (the others listed
 * as remote) and `start --on 127.0.0.1` the rest. Then the same topology with `tls: true`: hubs
 * serve HTTPS with certificates of the topology CA, clients verify them, keys flow. Ports 19600-19649.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { certLayout } from "../../src/certs";
import { isPortFree } from "../../src/ports";
import { eventually, SystemTopology, SYSTEM_TIMEOUT } from "./harness";

jest.setTimeout(SYSTEM_TIMEOUT);

const YAML = `min_nr_shares: 2
hubs:
  - name: hank
    host: 127.0.0.1
    port: 19601
  - name: helen
    host: localhost
    port: 19603
  - name: hilary
    host: 127.0.0.1
    port: 19605
  - name: holly
    host: localhost
    listen: 127.0.0.1
    port: 19607
clients:
  - name: carol
    host: 127.0.0.1
    port: 19620
    encryptors:
      - name: sam
  - name: celia
    host: localhost
    port: 19622
    hubs: [holly, helen, hilary]
    min_nr_shares: 3
    encryptors:
      - name: serena
`;

let t = new SystemTopology(19600, {}, YAML);
const ON_LOCALHOST = ["helen", "holly", "celia"];
const ON_LOOPBACK_IP = ["hank", "hilary", "carol"];

afterAll(async () => {
  await t.cli("stop");
}, SYSTEM_TIMEOUT);

async function statusDocs(): Promise<Record<string, unknown>[]> {
  const r = await t.cli("status", "--json");
  if (r.code !== 0) throw new Error(`status failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>[];
}

async function expectKeyPairs(): Promise<void> {
  for (const [master, slave] of [
    ["sam", "serena"],
    ["serena", "sam"],
  ]) {
    const r = await t.bin("etsi-qkd", master, slave, "get-key-pair", "--number", "2");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain("Key values match");
  }
}

test("the nodes are placed as the YAML says (hosts, ports, celia on three hubs)", () => {
  expect(t.topology.nodes.map((n) => `${n.name}@${n.host}:${n.port}`)).toEqual([
    "hank@127.0.0.1:19601",
    "helen@localhost:19603",
    "hilary@127.0.0.1:19605",
    "holly@localhost:19607",
    "carol@127.0.0.1:19620",
    "celia@localhost:19622",
  ]);
  expect(t.node("celia").hubs).toEqual(["helen", "hilary", "holly"]);
});

test("start: every node of both loopback hosts comes up; celia registers with its three hubs only", async () => {
  const r = await t.cli("start");
  if (r.code !== 0) throw new Error(`start failed: ${r.stderr}`);
  expect(r.out).toContain("Starting hub helen on port 19603");
  const docs = await statusDocs();
  expect(docs.map((d) => [d.name, d.running])).toEqual(t.topology.nodes.map((n) => [n.name, true]));
  const celia = await t.status("celia");
  const hubsOf = (s: Record<string, unknown>) => (s.peer_hubs as { hub_name: string; registered: boolean }[]).map((h) => h.hub_name).sort();
  expect(hubsOf(celia)).toEqual(["helen", "hilary", "holly"]);
  expect(hubsOf(await t.status("carol"))).toEqual(["hank", "helen", "hilary", "holly"]);
});

test("dske-cli etsi-qkd get-key-pair between clients on different hub subsets (built binary), both ways", async () => {
  await expectKeyPairs();
});

test("status --verbose (summary) names every node with its place and state", async () => {
  const r = await t.cli("status", "--verbose");
  expect(r.code).toBe(0);
  expect(r.out).toContain("Hub helen on port 19603: running");
  expect(r.out).toContain("Client celia on port 19622: running");
  expect(r.out.filter((l) => /peer hubs: 3 of 3 registered/.test(l))).toHaveLength(1);
});

test("stop: every node stops and frees its port", async () => {
  const r = await t.cli("stop");
  expect(r.code).toBe(0);
  for (const n of t.topology.nodes) expect(await isPortFree(n.port, n.listen)).toBe(true);
});

test("start --on localhost starts only that host's nodes and lists the others as remote", async () => {
  const r = await t.cli("start", "--on", "localhost");
  if (r.code !== 0) throw new Error(`start --on localhost failed: ${r.stderr}`);
  for (const name of ON_LOOPBACK_IP) {
    expect(r.out.some((l) => l.includes(` ${name} on port `) && l.includes("is remote (placed on another host): not started here"))).toBe(
      true,
    );
  }
  const docs = await statusDocs();
  const running = docs.filter((d) => d.running === true).map((d) => d.name);
  expect(running.sort()).toEqual([...ON_LOCALHOST].sort());
  // status reaches every node at its host and port: the others are reported not running.
  for (const name of ON_LOOPBACK_IP) expect(docs.find((d) => d.name === name)?.error).toMatch(/^not running/);
});

test("start --on 127.0.0.1 then starts the rest, and keys flow again", async () => {
  const r = await t.cli("start", "--on", "127.0.0.1");
  if (r.code !== 0) throw new Error(`start --on 127.0.0.1 failed: ${r.stderr}`);
  expect(r.out.filter((l) => l.startsWith("Starting ")).map((l) => l.split(" ")[2])).toEqual(ON_LOOPBACK_IP);
  await eventually("every node running", async () => (await statusDocs()).every((d) => d.running === true));
  // celia started before hilary (another host): it registers with it once it answers.
  await eventually(
    "celia registered with its three hubs",
    async () => ((await t.status("celia")).peer_hubs as { registered: boolean }[]).every((h) => h.registered),
    30_000,
  );
  await expectKeyPairs();
});

test("stop, then the same topology with tls: true", async () => {
  const r = await t.cli("stop");
  expect(r.code).toBe(0);
  // Same hosts, on ports 19630-19637.
  t = new SystemTopology(
    19630,
    { tls: "true" },
    YAML.replace(/port: 196(\d\d)/g, (_, p: string) => `port: ${19630 + (Number(p) % 20)}`),
  );
  expect(t.topology.nodes.map((n) => n.port)).toEqual([19631, 19633, 19635, 19637, 19630, 19632]);
  const certs = await t.cli("certs", "--san", "kme.example.org");
  expect(certs.code).toBe(0);
  const layout = certLayout(t.stateDir);
  const sans = execFileSync("openssl", ["x509", "-noout", "-ext", "subjectAltName", "-in", layout.hub("helen").cert], { encoding: "utf8" });
  expect(sans).toContain("DNS:localhost");
  expect(sans).toContain("IP Address:127.0.0.1");
  expect(sans).toContain("DNS:kme.example.org");
  expect(existsSync(layout.client("celia").cert)).toBe(true);
  const start = await t.cli("start");
  if (start.code !== 0) throw new Error(`TLS start failed: ${start.stderr}`);
});

test("TLS: hubs answer HTTPS only, status reaches them with the operator credential, keys flow both ways", async () => {
  const helen = t.node("helen");
  await expect(t.http.get(`http://127.0.0.1:${helen.port}/health`)).rejects.toThrow();
  const docs = await statusDocs();
  expect(docs.map((d) => [d.name, d.running])).toEqual(t.topology.nodes.map((n) => [n.name, true]));
  await eventually(
    "celia registered with its three hubs over HTTPS",
    async () => ((await t.status("celia")).peer_hubs as { registered: boolean }[]).every((h) => h.registered),
    30_000,
  );
  await expectKeyPairs();
  const stop = await t.cli("stop");
  expect(stop.code).toBe(0);
});
