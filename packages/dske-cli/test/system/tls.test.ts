/**
 * System: the default topology with mutual TLS on every client, started through the CLI
 * (`start --tls`), keys through the built `dske-cli` binary with zero manual steps
 * (`etsi-qkd sam sunny get-key-pair` → "Key values match"), management over TLS with the
 * operator certificate, plain HTTP refused on the TLS ports, a later plain `start` going back
 * to (flagged) plain HTTP, and `start --tls` refused while clients run plain.
 */
import { existsSync, statSync } from "node:fs";
import { certLayout } from "../../src/certs";
import { runningTopology, SYSTEM_TIMEOUT } from "./harness";

jest.setTimeout(SYSTEM_TIMEOUT);

const t = runningTopology(18500, {}, { startArgs: ["--tls"] });
const layout = certLayout(t.stateDir);

test("start --tls created the CA and every certificate and recorded the mode", () => {
  expect(existsSync(layout.enabledFile)).toBe(true);
  expect(statSync(layout.caKey).mode & 0o777).toBe(0o600);
  for (const c of t.topology.clients) expect(existsSync(layout.client(c.name).cert)).toBe(true);
  for (const s of t.topology.allEncryptors()) expect(existsSync(layout.sae(s).cert)).toBe(true);
  expect(existsSync(layout.operator.cert)).toBe(true);
});

test("dske-cli etsi-qkd sam sunny get-key-pair (built binary) → Key values match", async () => {
  const r = await t.bin("etsi-qkd", "sam", "sunny", "get-key-pair");
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  expect(r.out).toContain("Key values match");
});

test("status goes over TLS with the operator certificate; every client reports https-mtls", async () => {
  const r = await t.cli("status", "--json");
  expect(r.code).toBe(0);
  const docs = (JSON.parse(r.stdout) as Record<string, unknown>[]).filter((d) => d.kind === "client");
  expect(docs).toHaveLength(t.topology.clients.length);
  for (const json of docs) {
    expect(json.running).toBe(true);
    expect(json.etsi_transport).toBe("https-mtls");
    expect(json.sae_authentication).toBe("tls-client-certificate");
  }
});

test("a plain-HTTP request to a TLS client's port fails (no HTTP answer, no key)", async () => {
  const carol = t.kmeOf("sam");
  await expect(
    t.http.get(`http://127.0.0.1:${carol.port}/api/v1/keys/sunny/enc_keys`, { headers: { Authorization: "sam" } }),
  ).rejects.toThrow();
});

test("stop over TLS, then a plain start goes back to HTTP (flagged insecure)", async () => {
  const stop = await t.cli("stop");
  expect(stop.code).toBe(0);
  const start = await t.cli("start", "--client", "carol", "--client", "curtis", "--hub", "hank", "--hub", "helen", "--hub", "hilary");
  if (start.code !== 0) throw new Error(`plain start failed: ${start.stderr}`);
  expect(existsSync(layout.enabledFile)).toBe(false);
  const status = await t.status("carol");
  expect(status.etsi_transport).toBe("http");
  expect(status.sae_authentication).toBe("authorization-header (insecure)");
  // Switching a running plain topology to TLS is refused with a clear message (no 60 s port wait).
  const tls = await t.cli("start", "--tls");
  expect(tls.code).toBe(1);
  expect(tls.stderr).toMatch(/client\(s\) carol, curtis run over plain HTTP; stop them first/);
});
