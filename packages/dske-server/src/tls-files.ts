/**
 * The TLS files a standalone node is started with (`--tls-cert`, `--tls-key`, `--tls-ca`,
 * `--hub-ca`, ...): read and checked before the node opens its state, so that a missing,
 * unreadable or mismatched file is a `TlsFileError` naming the option, the file and the fix,
 * never a TLS failure at the first connection.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from "node:crypto";
import { promises as fs } from "node:fs";

/** A TLS file that cannot be used; the message names the option, the file and the fix. */
export class TlsFileError extends Error {
  override readonly name = "TlsFileError";
}

/** One file given on the command line: the option that named it and its path. */
export interface TlsFileRef {
  option: string;
  file: string;
}

/** Read a PEM file; missing or unreadable → TlsFileError naming the option. */
export async function readTlsFile(ref: TlsFileRef): Promise<Buffer> {
  try {
    return await fs.readFile(ref.file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new TlsFileError(`${ref.option} ${ref.file}: cannot read (${code}); give the path of a readable PEM file`);
  }
}

/** The first certificate of a PEM file (the leaf of a chain). */
export function parseCertificate(pem: Buffer, ref: TlsFileRef): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new TlsFileError(
      `${ref.option} ${ref.file}: not a PEM certificate (${(err as Error).message}); give a file holding "-----BEGIN CERTIFICATE-----"`,
    );
  }
}

/** A PEM private key that belongs to `cert`. */
export function checkKeyPair(key: Buffer, keyRef: TlsFileRef, cert: X509Certificate, certRef: TlsFileRef): KeyObject {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new TlsFileError(
      `${keyRef.option} ${keyRef.file}: not a PEM private key (${(err as Error).message}); give the unencrypted key of ${certRef.option}`,
    );
  }
  if (!cert.checkPrivateKey(privateKey)) {
    throw new TlsFileError(
      `${keyRef.option} ${keyRef.file}: does not belong to the certificate in ${certRef.option} ${certRef.file}; give the key issued with it`,
    );
  }
  return privateKey;
}

/** A PEM CA certificate (basicConstraints CA:TRUE). */
export function checkCaCertificate(pem: Buffer, ref: TlsFileRef): X509Certificate {
  let ca: X509Certificate;
  try {
    ca = new X509Certificate(pem);
  } catch (err) {
    throw new TlsFileError(
      `${ref.option} ${ref.file}: not a PEM CA certificate (${(err as Error).message}); give the topology CA (ca.crt)`,
    );
  }
  if (!ca.ca) {
    throw new TlsFileError(
      `${ref.option} ${ref.file}: not a PEM CA certificate (not a CA certificate (basicConstraints CA:FALSE)); give the topology CA (ca.crt)`,
    );
  }
  return ca;
}

/** Read a CA file (e.g. `--hub-ca`) and check it holds a CA certificate. */
export async function readCaFile(ref: TlsFileRef): Promise<Buffer> {
  const pem = await readTlsFile(ref);
  checkCaCertificate(pem, ref);
  return pem;
}

/** A server's certificate, its key and optionally a CA, read and checked. */
export interface ServerTlsFiles {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
}

/** Read `cert` + `key` (+ `ca`): each must exist and parse, the key must match the certificate. */
export async function readServerTlsFiles(refs: { cert: TlsFileRef; key: TlsFileRef; ca?: TlsFileRef }): Promise<ServerTlsFiles> {
  const [cert, key, ca] = await Promise.all([
    readTlsFile(refs.cert),
    readTlsFile(refs.key),
    refs.ca ? readTlsFile(refs.ca) : Promise.resolve(undefined),
  ]);
  const x509 = parseCertificate(cert, refs.cert);
  checkKeyPair(key, refs.key, x509, refs.cert);
  if (ca !== undefined && refs.ca) checkCaCertificate(ca, refs.ca);
  return { cert, key, ...(ca !== undefined ? { ca } : {}) };
}
