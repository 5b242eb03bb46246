/** `dske-cli certs`: the topology CA and the leaf certificates, checked with node:crypto. */
import { X509Certificate, createPrivateKey } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { CertError, OPERATOR_CN, certLayout, ensureCertificates, setTlsEnabled, tlsEnabled } from "../src/certs";

const dirs: string[] = [];
function tempRoot(): string {
  const d = mkdtempSync(path.join(tmpdir(), "dske-certs-"));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const cert = (file: string) => new X509Certificate(readFileSync(file));
const mode = (file: string) => statSync(file).mode & 0o777;

describe("ensureCertificates", () => {
  const root = tempRoot();
  const layout = certLayout(root);
  const clients = ["carol", "cindy"];
  const saes = ["sam", "sunny"];
  let first: Awaited<ReturnType<typeof ensureCertificates>>;

  beforeAll(async () => {
    first = await ensureCertificates(root, { clients, saes });
  });

  test("creates the CA and a certificate for every client, SAE and the operator", () => {
    expect(first.kept).toEqual([]);
    expect(first.created.sort()).toEqual(
      [layout.caCert, ...clients.map((c) => layout.client(c).cert), ...saes.map((s) => layout.sae(s).cert), layout.operator.cert].sort(),
    );
    const ca = cert(layout.caCert);
    expect(ca.ca).toBe(true);
    expect(ca.checkIssued(ca)).toBe(true);
  });

  test("every leaf chains to the CA (verify + checkIssued) and is not a CA", () => {
    const ca = cert(layout.caCert);
    const leaves = [...clients.map((c) => layout.client(c)), ...saes.map((s) => layout.sae(s)), layout.operator];
    for (const l of leaves) {
      const c = cert(l.cert);
      expect(c.verify(ca.publicKey)).toBe(true);
      expect(c.checkIssued(ca)).toBe(true);
      expect(c.ca).toBe(false);
      expect(c.checkPrivateKey(createPrivateKey(readFileSync(l.key)))).toBe(true);
    }
  });

  test("a leaf from another CA does not verify against this CA", async () => {
    const other = tempRoot();
    await ensureCertificates(other, { clients: ["carol"], saes: [] });
    const foreign = cert(certLayout(other).client("carol").cert);
    expect(foreign.verify(cert(layout.caCert).publicKey)).toBe(false);
    expect(foreign.checkIssued(cert(layout.caCert))).toBe(false);
  });

  test("server certificates: CN = client name, SAN IP:127.0.0.1 and DNS:localhost, serverAuth", () => {
    for (const c of clients) {
      const x = cert(layout.client(c).cert);
      expect(x.subject).toBe(`CN=${c}`);
      expect(x.subjectAltName).toBe("IP Address:127.0.0.1, DNS:localhost");
      expect(x.checkHost("localhost")).toBe("localhost");
      expect(x.checkIP("127.0.0.1")).toBe("127.0.0.1");
      expect(x.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1"]);
    }
  });

  test("SAE and operator certificates: CN = SAE ID / dske-operator, clientAuth only", () => {
    for (const s of saes) {
      const x = cert(layout.sae(s).cert);
      expect(x.subject).toBe(`CN=${s}`);
      expect(x.keyUsage).toEqual(["1.3.6.1.5.5.7.3.2"]);
    }
    expect(cert(layout.operator.cert).subject).toBe(`CN=${OPERATOR_CN}`);
    expect(cert(layout.operator.cert).keyUsage).toEqual(["1.3.6.1.5.5.7.3.2"]);
  });

  test("private keys are EC P-256 and mode 0600", () => {
    const keys = [layout.caKey, ...clients.map((c) => layout.client(c).key), ...saes.map((s) => layout.sae(s).key), layout.operator.key];
    for (const k of keys) {
      expect(mode(k)).toBe(0o600);
      const key = createPrivateKey(readFileSync(k));
      expect(key.asymmetricKeyType).toBe("ec");
      expect(key.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    }
  });

  test("idempotent: a second run keeps every valid certificate unchanged", async () => {
    const before = readFileSync(layout.sae("sam").cert, "utf8");
    const again = await ensureCertificates(root, { clients, saes });
    expect(again.created).toEqual([]);
    expect(again.kept).toHaveLength(first.created.length);
    expect(readFileSync(layout.sae("sam").cert, "utf8")).toBe(before);
  });

  test("adds only what is missing or broken (new SAE, corrupted certificate)", async () => {
    writeFileSync(layout.sae("sunny").cert, "garbage");
    const r = await ensureCertificates(root, { clients, saes: [...saes, "susan"] });
    expect(r.created.sort()).toEqual([layout.sae("sunny").cert, layout.sae("susan").cert].sort());
    expect(cert(layout.sae("susan").cert).checkIssued(cert(layout.caCert))).toBe(true);
    expect(cert(layout.sae("sunny").cert).subject).toBe("CN=sunny");
  });

  test("force regenerates the CA and every certificate", async () => {
    const oldCa = readFileSync(layout.caCert, "utf8");
    const r = await ensureCertificates(root, { clients, saes, force: true });
    expect(r.kept).toEqual([]);
    expect(readFileSync(layout.caCert, "utf8")).not.toBe(oldCa);
    expect(cert(layout.sae("sam").cert).checkIssued(cert(layout.caCert))).toBe(true);
  });

  test("names that cannot be a plain CN, or the operator's CN, are refused", async () => {
    await expect(ensureCertificates(tempRoot(), { clients: ["carol"], saes: ["a,CN=b"] })).rejects.toThrow(CertError);
    await expect(ensureCertificates(tempRoot(), { clients: [], saes: [OPERATOR_CN] })).rejects.toThrow(/reserved for the operator/);
  });

  test("the TLS mode marker", () => {
    const r = tempRoot();
    expect(tlsEnabled(r)).toBe(false);
    setTlsEnabled(r, true);
    expect(tlsEnabled(r)).toBe(true);
    setTlsEnabled(r, false);
    expect(tlsEnabled(r)).toBe(false);
  });
});
