/**
 * Run it: `pnpm --filter @dske/example-tls-psk start` (after `pnpm -r build`; needs openssl).
 * Starts the example topology, makes a random file, moves it from encryptor sam (master, on
 * client carol) to encryptor sunny (slave, on client curtis) over TLS 1.3 with a DSKE key as the
 * external PSK, checks the SHA-256, shows that a wrong key fails the handshake, and stops.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { isPortFree } from "@dske/cli";
import { Encryptor } from "./encryptor.js";
import { opensslVersion } from "./openssl.js";
import { startTopology } from "./topology.js";
import { transferFile } from "./transfer.js";

/** A free TCP port in 18810-18849 (the example's range). */
async function freeTlsPort(): Promise<number> {
  for (let p = 18810; p <= 18849; p++) if (await isPortFree(p)) return p;
  throw new Error("no free port in 18810-18849");
}

console.log(opensslVersion());
const topo = await startTopology((l) => console.log(`  ${l}`));
const dir = mkdtempSync(path.join(tmpdir(), "dske-tls-psk-files-"));
const sam = new Encryptor("sam", topo.etsiUrl("sam"));
const sunny = new Encryptor("sunny", topo.etsiUrl("sunny"));
try {
  const inFile = path.join(dir, "payload.bin");
  writeFileSync(inFile, randomBytes(512 * 1024));

  const ok = await transferFile({ master: sam, slave: sunny, inFile, outFile: path.join(dir, "received.bin"), port: await freeTlsPort() });
  console.log(`key ${ok.keyId}: ${ok.keysMatch ? "Key values match" : "KEY MISMATCH"}`);
  console.log(`sent ${ok.bytesSent} bytes, sha256 ${ok.sha256Sent}`);
  console.log(`got  ${ok.bytesReceived} bytes, sha256 ${ok.sha256Received}`);
  console.log(ok.sha256Sent === ok.sha256Received && ok.sender.code === 0 ? "File arrived intact" : "FILE TRANSFER FAILED");

  const bad = await transferFile({
    master: sam,
    slave: sunny,
    inFile,
    outFile: path.join(dir, "received-wrong-key.bin"),
    port: await freeTlsPort(),
    senderKeyOverride: randomBytes(32),
  });
  const reason = /binder does not verify|alert[^\n]*/i.exec(`${bad.receiver.stderr}\n${bad.sender.stderr}`)?.[0] ?? "handshake failed";
  console.log(
    bad.sender.code !== 0 && bad.bytesReceived === 0
      ? `With a wrong key the handshake fails (${reason}); nothing was received`
      : "UNEXPECTED: the wrong key was accepted",
  );
} finally {
  sam.close();
  sunny.close();
  rmSync(dir, { recursive: true, force: true });
  await topo.stop();
}
