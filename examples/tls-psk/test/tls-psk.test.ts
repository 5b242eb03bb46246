/**
 * Example: a DSKE key pair over ETSI 014 as a TLS 1.3 external PSK for openssl s_server/s_client.
 * Starts the example topology (dske-cli, built servers, ports 18800-18806), moves a random file
 * and checks it arrives intact; a wrong key must fail the handshake and deliver nothing.
 * TLS ports come from 18810-18849.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { isPortFree } from "@dske/cli";
import { Encryptor } from "../src/encryptor";
import { opensslVersion } from "../src/openssl";
import { startTopology, type RunningTopology } from "../src/topology";
import { sha256File, transferFile } from "../src/transfer";

jest.setTimeout(120_000);

let topo: RunningTopology | undefined;
let sam: Encryptor;
let sunny: Encryptor;
/** The encryptors beforeAll got to create (it may fail part way): afterAll closes these. */
const encryptors: Encryptor[] = [];
let dir: string;
let inFile: string;
let nextPort = 18810;

async function freePort(): Promise<number> {
  for (; nextPort <= 18849; nextPort++) if (await isPortFree(nextPort)) return nextPort++;
  throw new Error("no free port in 18810-18849");
}

beforeAll(async () => {
  expect(opensslVersion()).toMatch(/^OpenSSL 3\./); // TLS 1.3 external PSK needs OpenSSL >= 1.1.1
  topo = await startTopology();
  sam = new Encryptor("sam", topo.etsiUrl("sam"));
  encryptors.push(sam);
  sunny = new Encryptor("sunny", topo.etsiUrl("sunny"));
  encryptors.push(sunny);
  dir = mkdtempSync(path.join(tmpdir(), "dske-tls-psk-test-"));
  inFile = path.join(dir, "payload.bin");
  writeFileSync(inFile, randomBytes(384 * 1024 + 17)); // a few hundred KiB, not a multiple of a record
}, 120_000);

afterAll(async () => {
  for (const e of encryptors) e.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  await topo?.stop();
}, 120_000);

describe("example: a DSKE key as TLS 1.3 external PSK (openssl)", () => {
  it("moves a file from sam to sunny; it arrives intact (same size and SHA-256)", async () => {
    const outFile = path.join(dir, "received.bin");
    const r = await transferFile({ master: sam, slave: sunny, inFile, outFile, port: await freePort() });
    expect(r.keyId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
    expect(r.keysMatch).toBe(true);
    expect(r.sender).toMatchObject({ code: 0, timedOut: false });
    expect(r.receiver).toMatchObject({ code: 0, timedOut: false });
    expect(r.bytesSent).toBe(384 * 1024 + 17);
    expect(r.bytesReceived).toBe(r.bytesSent);
    expect(r.sha256Received).toBe(r.sha256Sent);
    expect(sha256File(outFile)).toBe(sha256File(inFile));
  });

  it("each transfer uses a fresh key: a second transfer gets another key ID and also arrives intact", async () => {
    const a = await transferFile({ master: sam, slave: sunny, inFile, outFile: path.join(dir, "a.bin"), port: await freePort() });
    const b = await transferFile({ master: sam, slave: sunny, inFile, outFile: path.join(dir, "b.bin"), port: await freePort() });
    expect(a.keyId).not.toBe(b.keyId);
    expect([a.sha256Received, b.sha256Received]).toEqual([a.sha256Sent, b.sha256Sent]);
  });

  it("a wrong key fails the TLS handshake (PSK binder) and nothing arrives", async () => {
    const outFile = path.join(dir, "wrong.bin");
    const r = await transferFile({
      master: sam,
      slave: sunny,
      inFile,
      outFile,
      port: await freePort(),
      senderKeyOverride: randomBytes(32),
    });
    expect(r.keysMatch).toBe(true); // the KMEs agree; only the sender's PSK is wrong
    expect(r.sender.code).not.toBe(0);
    expect(r.sender.timedOut).toBe(false);
    expect(r.sender.stderr).toMatch(/alert/i);
    expect(r.receiver.stderr).toMatch(/binder does not verify/);
    expect(r.bytesReceived).toBe(0);
  });
});
