/**
 * The example's flow: the master encryptor gets a key for the slave over ETSI 014, tells the slave
 * the key's ID (the TLS PSK identity, which also travels in the clear in the ClientHello), the
 * slave gets the same key from its own KME, and the file moves over TLS 1.3 with that key as the
 * external PSK: the slave runs `openssl s_server` (receiver), the master `openssl s_client` (sender).
 */
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import type { Encryptor, SharedKey } from "./encryptor";
import { PskFileReceiver, sendFile, type RunResult } from "./openssl";

export interface TransferOptions {
  readonly master: Encryptor;
  readonly slave: Encryptor;
  readonly inFile: string;
  readonly outFile: string;
  /** TLS port of the receiver on 127.0.0.1. */
  readonly port: number;
  /** For the wrong-key demonstration: the PSK the sender uses instead of the DSKE key. */
  readonly senderKeyOverride?: Buffer;
  readonly timeoutMs?: number;
}

export interface TransferResult {
  readonly keyId: string;
  /** Both encryptors got the same key from their KMEs. */
  readonly keysMatch: boolean;
  readonly sender: RunResult;
  readonly receiver: RunResult;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly sha256Sent: string;
  readonly sha256Received: string;
}

export function sha256File(file: string): string {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}

/** Get a key pair over ETSI 014 and move `inFile` to `outFile` over TLS 1.3 with it as PSK. */
export async function transferFile(o: TransferOptions): Promise<TransferResult> {
  let masterKey: SharedKey | undefined;
  let slaveKey: SharedKey | undefined;
  try {
    masterKey = await o.master.newKeyFor(o.slave.sae, 256);
    // (in-band in a real protocol; here a function argument)
    slaveKey = await o.slave.keyFrom(o.master.sae, masterKey.keyId);
    const keysMatch = masterKey.key.equals(slaveKey.key);
    const receiver = new PskFileReceiver({
      port: o.port,
      psk: slaveKey.key,
      identity: slaveKey.keyId,
      outFile: o.outFile,
      timeoutMs: o.timeoutMs,
    });
    let sender: RunResult;
    try {
      sender = await sendFile({
        port: o.port,
        psk: o.senderKeyOverride ?? masterKey.key,
        identity: masterKey.keyId,
        inFile: o.inFile,
        timeoutMs: o.timeoutMs,
      });
    } finally {
      // After a good transfer the server ends by itself (-naccept 1); otherwise stop it.
      if (!(await settledWithin(receiver.done, 5000))) await receiver.stop();
    }
    const received = await receiver.done;
    return {
      keyId: masterKey.keyId,
      keysMatch,
      sender,
      receiver: received,
      bytesSent: statSync(o.inFile).size,
      bytesReceived: statSync(o.outFile).size,
      sha256Sent: sha256File(o.inFile),
      sha256Received: sha256File(o.outFile),
    };
  } finally {
    masterKey?.key.fill(0);
    slaveKey?.key.fill(0);
  }
}

/** true if `p` settles within `ms`. */
function settledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    p.then(
      () => {
        clearTimeout(t);
        resolve(true);
      },
      () => {
        clearTimeout(t);
        resolve(true);
      },
    );
  });
}
