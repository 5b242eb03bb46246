/**
 * Installing PSRD bundles (the client's end of out-of-band delivery, see @dske/distributor).
 *
 * `installBundle(file)`:
 * 1. reads the file and routes it by its header to the peer hub it names;
 * 2. opens it against that hub's chain (client name, hub name, next seq, chain key): a tampered,
 *    truncated, replayed, out-of-order or foreign bundle is refused and nothing is installed;
 * 3. adds its blocks to the two pools (each add durable; a block already there is skipped, so a
 *    re-run after a crash completes the install);
 * 4. records the chain step durably (seq, the next chain key, hub-owned blocks to confirm);
 * 5. destroys the file (zeroed, then unlinked): PSRD exists in two copies only;
 * 6. tells the peer hub (confirm hub-owned blocks in band, register after the first bundle).
 *
 * A kill -9 during an install leaves all or nothing: before step 4 the file is still there and
 * the chain unchanged, so the next start installs it again (added blocks are skipped); after
 * step 4 the install is complete and a leftover file is refused as replayed and destroyed.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { BundleError, destroyBundleFile, openBundle, peekBundleHeader, readBundleFile } from "@dske/distributor";
import type { Logger } from "./logger.js";
import type { NodeState } from "./node-state.js";
import type { PeerHub } from "./peer-hub.js";

export interface InstalledBundle {
  hub_name: string;
  seq: number;
  blocks: number;
  client_owned_bytes: number;
  hub_owned_bytes: number;
}

/** Why an install was refused (the router maps `code` to a status). */
export class BundleInstallError extends Error {
  override readonly name = "BundleInstallError";
  constructor(
    readonly code: "not_found" | "unknown_hub" | "refused",
    message: string,
    readonly bundleCode?: string,
  ) {
    super(message);
  }
}

export class BundleInstaller {
  constructor(
    private readonly clientName: string,
    private readonly peers: readonly PeerHub[],
    private readonly state: NodeState,
    private readonly logger: Logger,
  ) {}

  async install(file: string): Promise<InstalledBundle> {
    let bytes: Uint8Array;
    try {
      bytes = await readBundleFile(file);
    } catch (err) {
      // A retried install of a bundle that was installed (and destroyed) before: done already.
      const done = this.alreadyInstalled(file);
      if (done) return done;
      throw new BundleInstallError("not_found", err instanceof Error ? err.message : String(err));
    }
    try {
      let hubName: string;
      try {
        hubName = peekBundleHeader(bytes).hub_name;
      } catch (err) {
        throw refused(file, err);
      }
      const peer = this.peers.find((p) => p.name === hubName);
      if (!peer) {
        throw new BundleInstallError(
          "unknown_hub",
          `bundle ${path.basename(file)} refused, nothing installed: it is from hub ${hubName}, which is not one of the hubs of client ${this.clientName} (${this.peers.map((p) => p.name).join(", ")})`,
        );
      }
      if (peer.reference) {
        throw new BundleInstallError(
          "unknown_hub",
          `bundle ${path.basename(file)} refused, nothing installed: hub ${hubName} is a reference hub, whose PSRD comes over the network (GET psrd), never in bundles`,
        );
      }
      const result = await peer.withChainLock(async () => {
        const chain = this.state.chain(hubName);
        let opened;
        try {
          opened = openBundle(bytes, {
            clientName: this.clientName,
            hubName,
            expectedSeq: (chain?.seq ?? 0) + 1,
            ...(chain ? { chainKey: Buffer.from(chain.key, "base64") } : {}),
          });
        } catch (err) {
          if (err instanceof BundleError && err.code === "replayed") {
            // Installed before (e.g. a crash right after the chain step): the copy goes.
            await destroyBundleFile(file).catch(() => undefined);
          }
          throw refused(file, err);
        }
        try {
          const pools = await peer.pools();
          let local = 0;
          let peerBytes = 0;
          const hubOwned: string[] = [];
          for (const b of opened.blocks) {
            const pool = b.pool_owner === "client" ? pools.local : pools.peer;
            if (!pool.hasBlock(b.block_uuid)) await pool.addBlock(b.block_uuid, b.data, { keyPrefix: b.key_prefix });
            const usable = b.data.length - b.key_prefix;
            if (b.pool_owner === "client") local += usable;
            else {
              peerBytes += usable;
              hubOwned.push(b.block_uuid);
            }
          }
          await this.state.setChain(hubName, {
            seq: opened.header.seq,
            key: Buffer.from(opened.nextChainKey).toString("base64"),
            auth_scheme: opened.header.auth_scheme,
            enrollment_secret: opened.header.enrollment_secret ?? chain?.enrollment_secret,
            unconfirmed: [...(chain?.unconfirmed ?? []), ...hubOwned],
          });
          return { seq: opened.header.seq, blocks: opened.blocks.length, local, peer: peerBytes };
        } finally {
          for (const b of opened.blocks) b.data.fill(0);
          opened.nextChainKey.fill(0);
        }
      });
      await destroyBundleFile(file);
      this.logger.info("PSRD bundle installed", {
        hub: hubName,
        seq: result.seq,
        blocks: result.blocks,
        client_owned_bytes: result.local,
        hub_owned_bytes: result.peer,
      });
      peer.onBundleInstalled({ local: result.local, peer: result.peer });
      return { hub_name: hubName, seq: result.seq, blocks: result.blocks, client_owned_bytes: result.local, hub_owned_bytes: result.peer };
    } finally {
      bytes.fill(0);
    }
  }

  /**
   * The file name the hubs give bundles (`HUB-CLIENT-SEQ.psrd`) names an install that already
   * happened: a retry by the local distributor after the answer was lost.
   */
  private alreadyInstalled(file: string): InstalledBundle | undefined {
    const base = path.basename(file);
    for (const p of this.peers) {
      const prefix = `${p.name}-${this.clientName}-`;
      if (!base.startsWith(prefix) || !base.endsWith(".psrd")) continue;
      const digits = base.slice(prefix.length, -".psrd".length);
      if (!/^\d+$/.test(digits)) continue;
      const seq = Number(digits);
      const chain = this.state.chain(p.name);
      if (chain && chain.seq >= seq) return { hub_name: p.name, seq, blocks: 0, client_owned_bytes: 0, hub_owned_bytes: 0 };
    }
    return undefined;
  }

  /** Install every bundle in `dir` (at start), in name order (names carry hub and seq); refusals are logged. */
  async installDirectory(dir: string): Promise<InstalledBundle[]> {
    let names: string[];
    try {
      names = (await fs.readdir(dir)).filter((n) => n.endsWith(".psrd") && !n.startsWith(".")).sort();
    } catch {
      return [];
    }
    const done: InstalledBundle[] = [];
    for (const n of names) {
      try {
        done.push(await this.install(path.join(dir, n)));
      } catch (err) {
        this.logger.warn("PSRD bundle not installed", { file: n, dir, err: err instanceof Error ? err.message : String(err) });
      }
    }
    return done;
  }
}

function refused(file: string, err: unknown): BundleInstallError {
  const code = err instanceof BundleError ? err.code : undefined;
  const message = err instanceof Error ? err.message : String(err);
  return new BundleInstallError("refused", `bundle ${path.basename(file)} refused, nothing installed: ${message}`, code);
}
