/**
 * System: the default topology with mutual TLS on every client, started through the CLI
 * (`start --tls`), keys through the built `dske-cli` binary with zero manual steps
 * (`etsi-qkd sam sunny get-key-pair` → "Key values match"), management over TLS with the
 * operator certificate, plain HTTP refused on the TLS ports, a later plain `start` going back
 * to (flagged) plain HTTP, and `start --tls` refused while clients run plain. Attack: an SAE
 * with a valid certificate whose connection is reset while the KME still writes to it: the KME
 * stays up (its request line once read the certificate of a closed socket and crashed it).
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";
import { certLayout } from "../../src/certs";
import { readPidFile, isNodeProcessAlive } from "../../src/pid-file";
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

/**
 * The attack, through a relay of the attacker's own: an SAE with a valid certificate pipelines
 * `pipelined` requests for a large page, the relay stops reading the KME's answers once
 * `stallAfter` bytes came through (so the KME's writes queue up), then resets the connection (RST)
 * while the KME still has writes in flight. Node then completes those writes with an error and
 * still emits 'finish' on a socket already gone. Resolves with the bytes the relay saw.
 */
async function resetMidAnswer(kmePort: number, path: string, sae: string, pipelined = 400, stallAfter = 20_000): Promise<number> {
  const id = layout.sae(sae);
  let seen = 0;
  const relay = net.createServer((down) => {
    const up = net.connect({ host: "127.0.0.1", port: kmePort });
    let stalled = false;
    down.on("data", (c: Buffer) => up.write(c));
    up.on("data", (c: Buffer) => {
      seen += c.length;
      if (stalled) return;
      down.write(c);
      if (seen > stallAfter) {
        stalled = true;
        up.pause();
        setTimeout(() => {
          up.resetAndDestroy();
          down.destroy();
        }, 300);
      }
    });
    for (const sock of [up, down]) sock.on("error", () => undefined);
    up.on("close", () => down.destroy());
  });
  await new Promise<void>((r) => relay.listen(0, "127.0.0.1", r));
  const relayPort = (relay.address() as net.AddressInfo).port;
  try {
    await new Promise<void>((resolve, reject) => {
      const s = tls.connect({
        host: "127.0.0.1",
        port: relayPort,
        ca: readFileSync(layout.caCert),
        cert: readFileSync(id.cert),
        key: readFileSync(id.key),
        rejectUnauthorized: false, // the attacker does not care who answers
      });
      s.on("secureConnect", () => s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`.repeat(pipelined)));
      s.resume(); // read what the relay lets through, and so see the connection end
      s.on("error", () => undefined);
      s.on("close", () => resolve());
      setTimeout(() => reject(new Error("the attack connection did not end within 60 s")), 60_000).unref();
    });
  } finally {
    await new Promise((r) => relay.close(r));
  }
  return seen;
}

test("an SAE whose connection is reset while the KME is still writing its answers, 10 times: the KME stays up", async () => {
  const kme = t.kmeOf("sam");
  const pidFile = `${t.stateDir}/pids/${kme.name}.pid`;
  const pid = readPidFile(pidFile) ?? 0;
  expect(pid).toBeGreaterThan(0);
  for (let i = 0; i < 10; i++) {
    // Answers were flowing when the relay stalled and reset (a KME that died answers nothing).
    const seen = await resetMidAnswer(kme.port, `/${kme.kind}/${kme.name}/redoc`, "sam");
    expect([i, seen > 20_000 ? "answers flowed" : `${seen} bytes: is the KME down? see its log`]).toEqual([i, "answers flowed"]);
  }
  // Same process, still serving keys.
  expect(isNodeProcessAlive(pid, kme.name)).toBe(true);
  const r = await t.bin("etsi-qkd", "sam", "sunny", "get-key-pair");
  expect(r.stderr).toBe("");
  expect(r.out).toContain("Key values match");
  expect(readPidFile(pidFile)).toBe(pid);
  expect(readFileSync(`${t.stateDir}/logs/${kme.name}.log`, "utf8")).not.toContain("uncaught exception");
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
