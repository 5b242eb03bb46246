/**
 * The `wg` tool (wireguard-tools) as the agent uses it: set a peer's preshared key from a key
 * file, and force a fresh handshake so the new key is in use at once.
 *
 * The key reaches `wg` only through a file: mode 0600 in a private directory (0700), created
 * exclusively, and removed right after `wg set` read it, whatever happened. Never on a command
 * line (visible in `ps`) and never in a log.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

/** WireGuard's preshared key is 32 bytes (256 bits). */
export const PSK_BYTES = 32;

export interface WgOptions {
  /** The `wg` program (default `wg` from PATH). */
  readonly wg?: string;
  /** Where the short-lived key file goes (default: a private directory under the OS temp dir). */
  readonly keyDir?: string;
}

function run(cmd: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 15_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(" ")} failed: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

/** A peer as `wg show IFACE dump` lists it (what a re-add needs). */
export interface WgPeer {
  readonly publicKey: string;
  readonly endpoint: string;
  readonly allowedIps: string;
  readonly persistentKeepalive: string;
  /** Unix seconds of the latest handshake, 0 for none yet. */
  readonly latestHandshake: number;
}

/** The peers of `iface` (`wg show IFACE dump`: the first line is the interface itself). */
export async function wgPeers(iface: string, opts: WgOptions = {}): Promise<WgPeer[]> {
  const out = await run(opts.wg ?? "wg", ["show", iface, "dump"]);
  return out
    .split("\n")
    .slice(1)
    .filter((l) => l.trim() !== "")
    .map((l) => {
      const [publicKey = "", , endpoint = "", allowedIps = "", latest = "0", , , keepalive = "off"] = l.split("\t");
      return { publicKey, endpoint, allowedIps, persistentKeepalive: keepalive, latestHandshake: Number(latest) };
    });
}

/**
 * Set `key` (32 bytes) as the preshared key of peer `peerPublicKey` on `iface`. With
 * `rehandshake`, the peer is then removed and added again with the same endpoint, allowed IPs
 * and keepalive: its session ends, and the next packet (at once with a persistent keepalive)
 * starts a handshake under the new key. Without it the key is used from the next regular
 * handshake (WireGuard rekeys every 2 minutes).
 */
export async function setPresharedKey(
  iface: string,
  peerPublicKey: string,
  key: Buffer,
  opts: WgOptions & { rehandshake?: boolean } = {},
): Promise<void> {
  if (key.length !== PSK_BYTES) throw new Error(`a WireGuard preshared key is ${PSK_BYTES} bytes, got ${key.length}`);
  const wg = opts.wg ?? "wg";
  const dir = mkdtempSync(path.join(opts.keyDir ?? tmpdir(), "wg-psk-"));
  const file = path.join(dir, "psk");
  const b64 = Buffer.from(key.toString("base64"));
  try {
    writeFileSync(file, b64, { mode: 0o600, flag: "wx" });
    if (opts.rehandshake !== true) {
      await run(wg, ["set", iface, "peer", peerPublicKey, "preshared-key", file]);
      return;
    }
    const peer = (await wgPeers(iface, opts)).find((p) => p.publicKey === peerPublicKey);
    if (peer === undefined) throw new Error(`${iface} has no peer ${peerPublicKey}`);
    await run(wg, ["set", iface, "peer", peerPublicKey, "remove"]);
    const again = ["set", iface, "peer", peerPublicKey, "preshared-key", file, "persistent-keepalive", peer.persistentKeepalive];
    if (peer.endpoint !== "(none)" && peer.endpoint !== "") again.push("endpoint", peer.endpoint);
    if (peer.allowedIps !== "(none)" && peer.allowedIps !== "") again.push("allowed-ips", peer.allowedIps);
    await run(wg, again);
  } finally {
    b64.fill(0);
    rmSync(dir, { recursive: true, force: true });
  }
}
