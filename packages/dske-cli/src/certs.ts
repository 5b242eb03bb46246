/**
 * `dske-cli certs`: a local certificate authority for a topology and the certificates of its
 * mutual-TLS ETSI API and of its hubs' HTTPS (see the client README, "TLS"):
 *
 *   <state>/tls/ca.crt, ca.key (0600)             the topology CA (self-signed, EC P-256)
 *   <state>/tls/clients/NAME.crt, NAME.key        server cert per client: CN = NAME, SANs below
 *   <state>/tls/hubs/NAME.crt, NAME.key           server cert per hub: CN = NAME, SANs below
 *   <state>/tls/saes/NAME.crt, NAME.key           client cert per SAE: CN = SAE ID
 *   <state>/tls/operator.crt, operator.key        client cert CN = dske-operator (management routes)
 *   <state>/tls/enabled                           present while the topology runs with TLS
 *
 * Server certificates name (SANs) the node's host, its listen address unless a wildcard,
 * 127.0.0.1, localhost and the extra names of `dske-cli certs --san` (serverSans).
 *
 * Keys: EC P-256 from Node's webcrypto. Certificates: built and signed with @peculiar/x509.
 * Idempotent: an existing certificate is kept while it is valid, signed by the current CA and
 * names the expected subject; `force` regenerates everything (new CA).
 */
import { webcrypto } from "node:crypto";
import { X509Certificate as NodeX509 } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { isIP } from "node:net";
import type * as X509 from "@peculiar/x509";
import { bareHost, isWildcardAddress } from "./addresses";
import { CliError } from "./errors";

/** CN of the operator certificate: the only identity allowed on a TLS client's management routes. */
export const OPERATOR_CN = "dske-operator";

type CryptoKey = webcrypto.CryptoKey;
const crypto = webcrypto;

/**
 * @peculiar/x509 is loaded when certificates are made or checked (ensureCertificates), not when
 * the module is: it costs every dske-cli command about 0.14 s of start-up otherwise.
 */
let loaded: typeof X509 | undefined;
async function loadX509(): Promise<void> {
  if (loaded !== undefined) return;
  const lib = await import("@peculiar/x509");
  // why: @peculiar/x509 types its provider with the DOM `Crypto`; Node's webcrypto implements it.
  lib.cryptoProvider.set(crypto as unknown as Parameters<typeof lib.cryptoProvider.set>[0]);
  loaded = lib;
}
/** The library, once loadX509 ran (every caller is reached from ensureCertificates). */
function x509(): typeof X509 {
  if (loaded === undefined) throw new Error("internal: @peculiar/x509 used before loadX509()");
  return loaded;
}

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY_MS = 24 * 3600 * 1000;
/** Leaf lifetime (local experiments): 2 years; CA: 10 years. */
const LEAF_DAYS = 730;
const CA_DAYS = 3650;

export interface TlsIdentityFiles {
  readonly cert: string;
  readonly key: string;
}

export interface CertLayout {
  readonly dir: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly enabledFile: string;
  client(name: string): TlsIdentityFiles;
  hub(name: string): TlsIdentityFiles;
  sae(name: string): TlsIdentityFiles;
  readonly operator: TlsIdentityFiles;
}

export function certLayout(stateRoot: string): CertLayout {
  const dir = path.join(stateRoot, "tls");
  return {
    dir,
    caCert: path.join(dir, "ca.crt"),
    caKey: path.join(dir, "ca.key"),
    enabledFile: path.join(dir, "enabled"),
    client: (name) => ({ cert: path.join(dir, "clients", `${name}.crt`), key: path.join(dir, "clients", `${name}.key`) }),
    hub: (name) => ({ cert: path.join(dir, "hubs", `${name}.crt`), key: path.join(dir, "hubs", `${name}.key`) }),
    sae: (name) => ({ cert: path.join(dir, "saes", `${name}.crt`), key: path.join(dir, "saes", `${name}.key`) }),
    operator: { cert: path.join(dir, "operator.crt"), key: path.join(dir, "operator.key") },
  };
}

export interface EnsureCertsOptions {
  clients: readonly string[];
  /** Hubs (server certificates for their HTTPS). Default none. */
  hubs?: readonly string[];
  saes: readonly string[];
  /** SANs of a server certificate (serverSans). Default: 127.0.0.1 and localhost. */
  sans?: (kind: "hub" | "client", name: string) => readonly string[];
  /** Regenerate the CA and every certificate. */
  force?: boolean;
}

export interface EnsureCertsResult {
  readonly created: string[];
  readonly kept: string[];
}

/** Bad names or missing/unreadable certificate files: reported by the CLI as one clear line. */
export class CertError extends CliError {}

function writeSecret(file: string, text: string, mode: number): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, file);
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey("pkcs8", key);
  return x509().PemConverter.encode(der, "PRIVATE KEY");
}

async function importKeyPem(pem: string): Promise<CryptoKey> {
  const der = x509().PemConverter.decode(pem)[0];
  return crypto.subtle.importKey("pkcs8", der, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
}

function serial(): string {
  const b = Buffer.from(crypto.getRandomValues(new Uint8Array(16)));
  b[0] &= 0x7f; // positive INTEGER
  return b.toString("hex");
}

interface Ca {
  cert: X509.X509Certificate;
  key: CryptoKey;
  node: NodeX509;
}

async function createCa(layout: CertLayout): Promise<Ca> {
  const keys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
  const now = new Date();
  const cert = await x509().X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: "CN=DSKE topology CA",
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + CA_DAYS * DAY_MS),
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new (x509().BasicConstraintsExtension)(true, 0, true),
      new (x509().KeyUsagesExtension)(x509().KeyUsageFlags.keyCertSign | x509().KeyUsageFlags.cRLSign, true),
      await x509().SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  writeSecret(layout.caKey, await exportKeyPem(keys.privateKey), 0o600);
  writeSecret(layout.caCert, cert.toString("pem") + "\n", 0o644);
  return { cert, key: keys.privateKey, node: new NodeX509(cert.toString("pem")) };
}

async function loadCa(layout: CertLayout): Promise<Ca | undefined> {
  if (!existsSync(layout.caCert) || !existsSync(layout.caKey)) return undefined;
  try {
    const pem = readFileSync(layout.caCert, "utf8");
    const node = new NodeX509(pem);
    if (!node.ca || new Date(node.validTo).getTime() < Date.now() + DAY_MS) return undefined;
    const key = await importKeyPem(readFileSync(layout.caKey, "utf8"));
    return { cert: new (x509().X509Certificate)(pem), key, node };
  } catch {
    return undefined;
  }
}

const DEFAULT_SANS = ["127.0.0.1", "localhost"];

/**
 * The SANs of a node's server certificate: its host, its listen address unless a wildcard,
 * 127.0.0.1, localhost, then `extra` (`dske-cli certs --san`); once each, in that order.
 */
export function serverSans(node: { host?: string; listen?: string }, extra: readonly string[] = []): string[] {
  const names = [
    node.host,
    node.listen !== undefined && !isWildcardAddress(node.listen) ? node.listen : undefined,
    ...DEFAULT_SANS,
    ...extra,
  ];
  const out = new Map<string, string>();
  for (const n of names) if (n !== undefined && n.trim() !== "") out.set(sanKey(n), bareHost(n));
  return [...out.values()];
}

/** A SAN compared the way certificates hold it: IPs canonical (IPv6 compressed), DNS names lower case. */
function sanKey(name: string): string {
  const h = bareHost(name);
  return isIP(h) === 6 ? `ip:${new URL(`http://[${h}]`).hostname}` : isIP(h) === 4 ? `ip:${h}` : `dns:${h}`;
}

/** The SANs of a certificate file as sanKey values (empty for none). */
function certSanKeys(pem: string): string[] {
  const ext = new (x509().X509Certificate)(pem).getExtension(x509().SubjectAlternativeNameExtension);
  return (ext?.names.items ?? []).map((n) => (n.type === "ip" ? sanKey(n.value) : `${n.type}:${n.value.toLowerCase()}`));
}

/** An existing leaf is kept if it parses, is signed by the CA, names `cn` (and `sans`) and is valid for > 1 day. */
function leafIsValid(ca: Ca, files: TlsIdentityFiles, cn: string, sans?: readonly string[]): boolean {
  if (!existsSync(files.cert) || !existsSync(files.key)) return false;
  try {
    const pem = readFileSync(files.cert, "utf8");
    const cert = new NodeX509(pem);
    const sameSans = sans === undefined || sameSet(certSanKeys(pem), sans.map(sanKey));
    return (
      cert.verify(ca.node.publicKey) &&
      cert.checkIssued(ca.node) &&
      cert.subject.split("\n").includes(`CN=${cn}`) &&
      new Date(cert.validTo).getTime() > Date.now() + DAY_MS &&
      sameSans
    );
  } catch {
    return false;
  }
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const A = new Set(a);
  const B = new Set(b);
  return A.size === B.size && [...A].every((x) => B.has(x));
}

async function createLeaf(
  ca: Ca,
  files: TlsIdentityFiles,
  cn: string,
  role: "server" | "client",
  sans: readonly string[] = DEFAULT_SANS,
): Promise<void> {
  const keys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
  const now = new Date();
  const extensions: X509.Extension[] = [
    new (x509().BasicConstraintsExtension)(false, undefined, true),
    new (x509().KeyUsagesExtension)(x509().KeyUsageFlags.digitalSignature | x509().KeyUsageFlags.keyAgreement, true),
    new (x509().ExtendedKeyUsageExtension)([role === "server" ? x509().ExtendedKeyUsage.serverAuth : x509().ExtendedKeyUsage.clientAuth]),
    await x509().AuthorityKeyIdentifierExtension.create(ca.cert),
    await x509().SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  if (role === "server") {
    extensions.push(
      new (x509().SubjectAlternativeNameExtension)(
        sans.map((s) => (isIP(bareHost(s)) !== 0 ? { type: "ip", value: bareHost(s) } : { type: "dns", value: bareHost(s) })),
      ),
    );
  }
  const cert = await x509().X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: new (x509().Name)([{ CN: [cn] }]),
    issuer: ca.cert.subjectName,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + LEAF_DAYS * DAY_MS),
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: ca.key,
    extensions,
  });
  writeSecret(files.key, await exportKeyPem(keys.privateKey), 0o600);
  writeSecret(files.cert, cert.toString("pem") + "\n", 0o644);
}

/** A certificate subject must be a plain name (no `,`, `=`, `+`, quotes or control characters). */
function checkName(name: string, what: string): void {
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new CertError(`${what} '${name}' cannot be a certificate CN (use letters, digits, _ . -)`);
  if (name === OPERATOR_CN) throw new CertError(`${what} may not be named '${OPERATOR_CN}' (reserved for the operator certificate)`);
}

/** Create what is missing (or everything with `force`). */
export async function ensureCertificates(stateRoot: string, options: EnsureCertsOptions): Promise<EnsureCertsResult> {
  await loadX509();
  const layout = certLayout(stateRoot);
  for (const c of options.clients) checkName(c, "client");
  for (const h of options.hubs ?? []) checkName(h, "hub");
  for (const s of options.saes) checkName(s, "encryptor (SAE)");
  const created: string[] = [];
  const kept: string[] = [];
  mkdirSync(layout.dir, { recursive: true, mode: 0o700 });
  let ca = options.force ? undefined : await loadCa(layout);
  if (ca === undefined) {
    for (const d of ["clients", "hubs", "saes"]) rmSync(path.join(layout.dir, d), { recursive: true, force: true });
    ca = await createCa(layout);
    created.push(layout.caCert);
  } else {
    kept.push(layout.caCert);
  }
  const sansOf = (kind: "hub" | "client", name: string) => options.sans?.(kind, name) ?? DEFAULT_SANS;
  const leaves: (readonly [TlsIdentityFiles, string, "server" | "client", readonly string[] | undefined])[] = [
    ...(options.hubs ?? []).map((h) => [layout.hub(h), h, "server", sansOf("hub", h)] as const),
    ...options.clients.map((c) => [layout.client(c), c, "server", sansOf("client", c)] as const),
    ...options.saes.map((s) => [layout.sae(s), s, "client", undefined] as const),
    [layout.operator, OPERATOR_CN, "client", undefined],
  ];
  for (const [files, cn, role, sans] of leaves) {
    if (leafIsValid(ca, files, cn, sans)) {
      kept.push(files.cert);
    } else {
      await createLeaf(ca, files, cn, role, sans);
      created.push(files.cert);
    }
  }
  return { created, kept };
}

/** PEM material for one TLS identity plus the CA (what an https agent needs). */
export interface TlsMaterial {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

export function readTlsMaterial(layout: CertLayout, identity: TlsIdentityFiles): TlsMaterial {
  try {
    return { ca: readFileSync(layout.caCert), cert: readFileSync(identity.cert), key: readFileSync(identity.key) };
  } catch (err) {
    throw new CertError(`TLS certificate missing (${(err as Error).message}); run 'dske-cli certs'`);
  }
}

/** Is the topology in this state dir running with TLS (recorded by `start --tls`)? */
export function tlsEnabled(stateRoot: string): boolean {
  return existsSync(certLayout(stateRoot).enabledFile);
}

export function setTlsEnabled(stateRoot: string, enabled: boolean): void {
  const file = certLayout(stateRoot).enabledFile;
  if (enabled) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, "mutual TLS on the clients' ETSI and management API\n");
  } else {
    rmSync(file, { force: true });
  }
}
