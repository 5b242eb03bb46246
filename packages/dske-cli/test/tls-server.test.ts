/**
 * Mutual TLS on the client's ETSI + management API, over real HTTPS on port 0: 3 in-process hubs
 * (MemoryStore, plain HTTP as the client harness builds them) and standalone client servers
 * (startClientServer) with certificates from `ensureCertificates` (this package's `certs`).
 *   carol hosts sam and susan; cindy hosts sunny.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import { TLSSocket } from "node:tls";
import { tmpdir } from "node:os";
import path from "node:path";
import { EtsiApi, parseClientArgs, startClientServer, type Logger, type RunningClientServer } from "@dske/client";
import { startHub, startInProcessDistributors, type TestHub } from "../../dske-client/test/harness";
import type { LocalDistributor } from "@dske/distributor";
import { probeNode, requestStop } from "../src/mgmt";
import { certLayout, ensureCertificates, readTlsMaterial, type TlsMaterial } from "../src/certs";

const silent: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const dir = mkdtempSync(path.join(tmpdir(), "dske-tls-server-"));
const stateRoot = path.join(dir, "state");
const otherRoot = path.join(dir, "other");
const layout = certLayout(stateRoot);
const directoryFile = path.join(dir, "kme-directory.json");
const TOKEN = "e".repeat(64);
const tokenFile = path.join(dir, "operator-token");

let hubs: TestHub[];
let carol: RunningClientServer;
let cindy: RunningClientServer;
const apis: EtsiApi[] = [];

const sae = (name: string, root = stateRoot): TlsMaterial => readTlsMaterial(certLayout(root), certLayout(root).sae(name));
const operator = (): TlsMaterial => readTlsMaterial(layout, layout.operator);

function api(server: RunningClientServer, name: string, material: TlsMaterial = sae(name)): EtsiApi {
  const a = new EtsiApi(server.url, name, { tls: material });
  apis.push(a);
  return a;
}

function clientArgs(name: string, encryptors: string[], tls: boolean): string[] {
  const own = layout.client(name);
  return [
    name,
    "--port",
    "0",
    "--hubs",
    ...hubs.map((h) => h.url),
    "--encryptors",
    ...encryptors,
    "--min-nr-shares",
    "2",
    "--state-dir",
    path.join(dir, "nodes", `${name}-${tls ? "tls" : "plain"}`),
    "--kme-directory",
    directoryFile,
    ...(tls ? ["--tls-cert", own.cert, "--tls-key", own.key, "--tls-ca", layout.caCert] : []),
    "--operator-token-file",
    tokenFile,
  ];
}

/** One raw HTTPS request (no keep-alive); `identity` = client certificate, or none. */
function request(
  url: string,
  opts: { method?: string; identity?: TlsMaterial; ca?: Buffer; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method: opts.method ?? "GET",
        ca: opts.ca ?? operator().ca,
        cert: opts.identity?.cert,
        key: opts.identity?.key,
        headers: opts.headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** The handshake (or the first read right after it, under TLS 1.3) fails with a TLS alert / reset. */
const TLS_REFUSED = /SSL|alert|certificate|ECONNRESET|socket hang up|EPIPE/i;

const distributors: LocalDistributor[] = [];

beforeAll(async () => {
  await ensureCertificates(stateRoot, { clients: ["carol", "cindy"], saes: ["sam", "susan", "sunny"] });
  await ensureCertificates(otherRoot, { clients: ["carol"], saes: ["sam"] });
  writeFileSync(directoryFile, JSON.stringify({ sam: "carol", susan: "carol", sunny: "cindy" }));
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  hubs = await Promise.all(["hank", "helen", "hilary"].map((n) => startHub(n)));
  carol = await startClientServer(await parseClientArgs(clientArgs("carol", ["sam", "susan"], true)), { logger: silent });
  cindy = await startClientServer(await parseClientArgs(clientArgs("cindy", ["sunny"], true)), { logger: silent });
  // The hubs' local distributors, in process: the clients get their PSRD in bundles.
  for (const c of [carol, cindy])
    distributors.push(
      ...startInProcessDistributors(
        c.client,
        hubs.map((h) => h.url),
      ),
    );
  await carol.client.whenRegistered();
  await cindy.client.whenRegistered();
});

afterAll(async () => {
  await Promise.all(distributors.map((d) => d.stop()));
  for (const a of apis) a.close();
  // Unset when beforeAll failed.
  await (carol as RunningClientServer | undefined)?.stop();
  await (cindy as RunningClientServer | undefined)?.stop();
  for (const h of (hubs as TestHub[] | undefined) ?? []) {
    await h.down();
    await h.hub.close();
  }
  rmSync(dir, { recursive: true, force: true });
});

describe("ETSI API over HTTPS with mutual TLS", () => {
  test("the server is https and presents the client's certificate (CN = client name, valid for 127.0.0.1)", async () => {
    expect(carol.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const cn = await new Promise<string>((resolve, reject) => {
      const req = https.request(`${carol.url}/api/v1/keys/sunny/status`, { ...sae("sam"), agent: false }, (res) => {
        const socket = res.socket;
        if (!(socket instanceof TLSSocket)) {
          reject(new Error("the response did not come over TLS"));
          return;
        }
        const peer = socket.getPeerCertificate();
        res.resume();
        resolve(String(peer.subject.CN));
      });
      req.on("error", reject);
      req.end();
    });
    expect(cn).toBe("carol");
  });

  test("a request without a client certificate is refused at the TLS layer", async () => {
    await expect(request(`${carol.url}/api/v1/keys/sunny/status`, { headers: { Authorization: "sam" } })).rejects.toThrow(TLS_REFUSED);
    const noCert = new EtsiApi(carol.url, "sam", { tls: { ca: operator().ca, cert: Buffer.alloc(0), key: Buffer.alloc(0) } });
    apis.push(noCert);
    await expect(noCert.getStatus("sunny")).rejects.toMatchObject({ status: 0 });
  });

  test("a certificate from another CA is refused", async () => {
    await expect(request(`${carol.url}/api/v1/keys/sunny/status`, { identity: sae("sam", otherRoot), ca: operator().ca })).rejects.toThrow(
      TLS_REFUSED,
    );
  });

  test("a client's server certificate cannot be used as an SAE's client certificate", async () => {
    const server = readTlsMaterial(layout, layout.client("cindy"));
    await expect(request(`${carol.url}/api/v1/keys/sunny/status`, { identity: server })).rejects.toThrow(TLS_REFUSED);
  });

  test("sam's certificate gets a key (enc_keys); sunny's certificate gets the same key (dec_keys)", async () => {
    const enc = await api(carol, "sam").getKey("sunny", { size: 256 });
    expect(enc.keys).toHaveLength(1);
    const dec = await api(cindy, "sunny").getKeyWithKeyId("sam", enc.keys[0].key_ID);
    expect(dec.keys).toEqual(enc.keys);
  });

  test("susan's certificate asking for sunny's key → 401, and the key stays deliverable to sunny", async () => {
    const enc = await api(carol, "sam").getKey("sunny");
    const id = enc.keys[0].key_ID;
    const susanAtCindy = api(cindy, "susan");
    await expect(susanAtCindy.getKeyWithKeyId("sam", id)).rejects.toMatchObject({ status: 401 });
    // Also with the Authorization header naming sunny: ignored under TLS, the certificate says susan.
    const spoof = await request(`${cindy.url}/api/v1/keys/sam/dec_keys?key_ID=${id}`, {
      identity: sae("susan"),
      headers: { Authorization: "sunny" },
    });
    expect(spoof.status).toBe(401);
    const dec = await api(cindy, "sunny").getKeyWithKeyId("sam", id);
    expect(dec.keys[0].key).toBe(enc.keys[0].key);
  });

  test("the Authorization header is ignored: identity comes from the certificate CN", async () => {
    const r = await request(`${carol.url}/api/v1/keys/sunny/status`, {
      identity: sae("susan"),
      headers: { Authorization: "Bearer sam" },
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ source_KME_ID: "carol", master_SAE_ID: "susan", slave_SAE_ID: "sunny" });
  });

  test("an SAE certificate on a management route → 403 (cannot stop its KME); the operator certificate → 200", async () => {
    const status = `${carol.url}/client/carol/mgmt/v1/status`;
    const stop = `${carol.url}/client/carol/mgmt/v1/stop`;
    const bySae = await request(status, { identity: sae("sam") });
    expect(bySae.status).toBe(403);
    const stopBySae = await request(stop, { method: "POST", identity: sae("sam"), headers: { "Content-Type": "application/json" } });
    expect(stopBySae.status).toBe(403);
    // Not JSON (what an HTML form can send): refused before anything else, even for the operator.
    expect((await request(stop, { method: "POST", identity: operator(), headers: { "Content-Type": "text/plain" } })).status).toBe(415);
    // The operator token works over TLS too, with any client certificate (here an SAE's); a wrong one does not.
    expect((await request(status, { identity: sae("sam"), headers: { Authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect((await request(status, { identity: sae("sam"), headers: { Authorization: `Bearer ${"f".repeat(64)}` } })).status).toBe(403);
    const byOperator = await request(status, { identity: operator() });
    expect(byOperator.status).toBe(200);
    expect(byOperator.body).toMatchObject({
      name: "carol",
      etsi_transport: "https-mtls",
      sae_authentication: "tls-client-certificate",
    });
    // Still serving after the refused stop.
    expect((await api(carol, "sam").getStatus("sunny")).target_KME_ID).toBe("cindy");
  });

  test("the CLI's management calls (probeNode, requestStop) use the operator certificate over https", async () => {
    const node = { kind: "client" as const, name: "cindy", port: Number(new URL(cindy.url).port), encryptors: ["sunny"] };
    expect(await probeNode(node, 2000)).toMatchObject({ state: "down" }); // plain HTTP to a TLS port
    const up = await probeNode(node, 2000, { tls: operator() });
    expect(up).toMatchObject({ state: "up", status: { name: "cindy", etsi_transport: "https-mtls" } });
    expect(await requestStop(node, 2000, { tls: sae("sunny") })).toBe(false);
    expect(await requestStop(node, 2000, { tls: operator() })).toBe(true);
    await cindy.stopped;
    expect(await probeNode(node, 2000, { tls: operator() })).toMatchObject({ state: "down" });
  });

  test("the operator certificate is not an SAE", async () => {
    const r = await request(`${carol.url}/api/v1/keys/sunny/enc_keys`, { identity: operator() });
    expect(r.status).toBe(401);
  });
});

describe("plain HTTP (local experiments) is flagged as insecure", () => {
  test("warning line at startup and the transport fields in the mgmt status", async () => {
    const warnings: string[] = [];
    const logger: Logger = { ...silent, warn: (m) => warnings.push(m) };
    const plain = await startClientServer(await parseClientArgs(clientArgs("carol", ["sam"], false)), { logger });
    try {
      expect(plain.url).toMatch(/^http:\/\//);
      expect(warnings).toContain("ETSI API over plain HTTP: SAE identity is taken from the Authorization header and is NOT authenticated");
      expect((await fetch(`${plain.url}/client/carol/mgmt/v1/status`)).status).toBe(401);
      const res = await fetch(`${plain.url}/client/carol/mgmt/v1/status`, { headers: { Authorization: `Bearer ${TOKEN}` } });
      expect(await res.json()).toMatchObject({
        etsi_transport: "http",
        sae_authentication: "authorization-header (insecure)",
      });
      const a = new EtsiApi(plain.url, "sam");
      apis.push(a);
      expect((await a.getStatus("sunny")).master_SAE_ID).toBe("sam");
    } finally {
      await plain.stop();
    }
  });

  test("plain HTTP to a TLS port gets no answer", async () => {
    await expect(fetch(`${carol.url.replace("https:", "http:")}/client/carol/mgmt/v1/status`)).rejects.toThrow();
  });
});

describe("--tls-* options of the standalone client", () => {
  const base = ["carol", "--hubs", "http://127.0.0.1:1/hub/hank", "--min-nr-shares", "1"];
  test("all three or none", async () => {
    await expect(parseClientArgs([...base, "--tls-cert", layout.client("carol").cert])).rejects.toThrow(
      /--tls-cert: give all three of --tls-cert, --tls-key and --tls-ca/,
    );
  });
  test("files must exist and parse; the key must match the certificate", async () => {
    const c = layout.client("carol");
    await expect(
      parseClientArgs([...base, "--tls-cert", c.cert, "--tls-key", path.join(dir, "nope.key"), "--tls-ca", layout.caCert]),
    ).rejects.toThrow(/--tls-key .*nope\.key: cannot read/);
    await expect(parseClientArgs([...base, "--tls-cert", c.key, "--tls-key", c.key, "--tls-ca", layout.caCert])).rejects.toThrow(
      /--tls-cert .*: not a PEM certificate/,
    );
    await expect(
      parseClientArgs([...base, "--tls-cert", c.cert, "--tls-key", layout.client("cindy").key, "--tls-ca", layout.caCert]),
    ).rejects.toThrow(/--tls-key .*: does not belong to the certificate/);
    await expect(parseClientArgs([...base, "--tls-cert", c.cert, "--tls-key", c.key, "--tls-ca", c.cert])).rejects.toThrow(
      /--tls-ca .*: not a PEM CA certificate/,
    );
    const ok = await parseClientArgs([...base, "--tls-cert", c.cert, "--tls-key", c.key, "--tls-ca", layout.caCert]);
    expect(ok.tls?.certFile).toBe(c.cert);
    expect(ok.tls?.cert.toString("utf8")).toContain("BEGIN CERTIFICATE");
  });
});
