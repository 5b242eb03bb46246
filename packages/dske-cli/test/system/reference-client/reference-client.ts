/**
 * The reference client (KME) emulator's domain: registration with every hub and the initial PSRD
 * in the background (retried until they succeed, as the reference's start tasks), keys scattered
 * over ALL n hubs as SLIP-39-style shares (share_index = the hub's position, 0..n−1) and gathered
 * from every hub, k = min_nr_shares of them combined. Test-only: a stand-in for dske-python's
 * client, written from the protocol, developer and user guides (see README.md here).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { PeerHub, type PsrdThresholds } from "./peer-hub";
import { combineShares, splitSecret, type ReferenceShare } from "./shamir";

export interface ReferenceClientOptions {
  readonly name: string;
  /** Base URLs of the hubs, `http://127.0.0.1:PORT/hub/NAME`, in share-index order. */
  readonly hubUrls: readonly string[];
  /** The SAE IDs attached to this client. */
  readonly encryptors: readonly string[];
  /** k: shares needed to reconstruct (the reference's --min-nr-shares). */
  readonly minNrShares: number;
  readonly psrd: PsrdThresholds;
  /** Delay between registration / PSRD attempts (the reference waits 1 s). */
  readonly retryMs?: number;
}

/** An ETSI-level failure: the status the KME answers and the reference's `detail` text. */
export class KmeError extends Error {
  override readonly name = "KmeError";
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface EtsiKey {
  key_ID: string;
  key: string;
}

export class ReferenceClient {
  readonly peerHubs: readonly PeerHub[];
  private stopped = false;
  private startup: Promise<void> | undefined;

  constructor(readonly options: ReferenceClientOptions) {
    this.peerHubs = options.hubUrls.map((url) => new PeerHub(url.replace(/\/$/, ""), options, options.psrd));
  }

  get name(): string {
    return this.options.name;
  }

  /** Start the per-hub start tasks (not awaited by the reference; `whenStarted` waits for them). */
  start(): void {
    this.startup ??= Promise.all(this.peerHubs.map((hub) => this.startTask(hub))).then(() => undefined);
  }

  /** Resolves once every hub registered this client and both pools hold PSRD. */
  async whenStarted(): Promise<void> {
    this.start();
    await this.startup;
  }

  stop(): void {
    this.stopped = true;
  }

  /** Why the start tasks of hubs not yet done are still retrying (their last error). */
  startupProblems(): string[] {
    return [...this.lastStartError].map(([url, why]) => `${url}: ${why}`);
  }

  private readonly lastStartError = new Map<string, string>();

  private async startTask(hub: PeerHub): Promise<void> {
    const retry = async (attempt: () => Promise<void>) => {
      for (;;) {
        if (this.stopped) return;
        try {
          await attempt();
          return;
        } catch (err) {
          this.lastStartError.set(hub.baseUrl, err instanceof Error ? err.message : String(err));
          await new Promise((r) => setTimeout(r, this.options.retryMs ?? 1000));
        }
      }
    };
    await retry(() => hub.register());
    await retry(() => hub.requestPsrd("client"));
    await retry(() => hub.requestPsrd("hub"));
    this.lastStartError.delete(hub.baseUrl);
  }

  /** ETSI Get key: a fresh key of `sizeBits`, scattered over all hubs; at least k posts must succeed. */
  async getKey(sizeBits: number): Promise<EtsiKey> {
    if (!Number.isInteger(sizeBits) || sizeBits % 8 !== 0 || sizeBits < 32 || sizeBits > 100_000) {
      throw new KmeError(400, `size must be a multiple of 8 from 32 to 100000 bits, got ${sizeBits}`);
    }
    const k = this.options.minNrShares;
    const keyId = randomUUID();
    const key = randomBytes(sizeBits / 8);
    const shares = splitSecret(key, k, this.peerHubs.length);
    const results = await Promise.allSettled(this.peerHubs.map((hub, i) => hub.postShare(keyId, shares[i].x, shares[i].y)));
    for (const s of shares) s.y.fill(0);
    for (const hub of this.peerHubs) hub.deleteFullyConsumedBlocks();
    const ok = results.filter((r) => r.status === "fulfilled").length;
    if (ok < k) {
      key.fill(0);
      throw new KmeError(503, `could not scatter enough shares for key ${keyId}: ${ok} of ${k} needed (${failures(results)})`);
    }
    const value = key.toString("base64");
    key.fill(0);
    return { key_ID: keyId, key: value };
  }

  /** ETSI Get key with key IDs: gather from every hub, combine k shares (digest checked). */
  async getKeyWithKeyId(keyId: string): Promise<EtsiKey> {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(keyId)) {
      throw new KmeError(400, `key_ID must be a UUID, got ${JSON.stringify(keyId.slice(0, 64))}`);
    }
    const k = this.options.minNrShares;
    const results = await Promise.allSettled(this.peerHubs.map((hub) => hub.getShare(keyId)));
    for (const hub of this.peerHubs) hub.deleteFullyConsumedBlocks();
    const shares: ReferenceShare[] = [];
    for (const r of results) if (r.status === "fulfilled") shares.push({ x: r.value.shareIndex, y: r.value.value });
    if (shares.length < k) {
      throw new KmeError(503, `could not gather enough shares for key ${keyId}: ${shares.length} of ${k} needed (${failures(results)})`);
    }
    let key: Uint8Array;
    try {
      key = combineShares(shares, k);
    } catch (err) {
      throw new KmeError(500, `key ${keyId} could not be reconstructed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      for (const s of shares) s.y.fill(0);
    }
    const value = Buffer.from(key).toString("base64");
    key.fill(0);
    return { key_ID: keyId, key: value };
  }

  /** The user guide's client status (`GET /client/NAME/mgmt/v1/status`), pools without PSRD bytes. */
  status(): Record<string, unknown> {
    return { name: this.name, encryptor_names: [...this.options.encryptors], peer_hubs: this.peerHubs.map((h) => h.status()) };
  }
}

/** The failed calls' reasons, for error texts (they never contain key material). */
function failures(results: readonly PromiseSettledResult<unknown>[]): string {
  const reasons = results.flatMap((r) =>
    r.status === "rejected" ? [r.reason instanceof Error ? r.reason.message : String(r.reason)] : [],
  );
  return reasons.length === 0 ? "no failures" : reasons.join("; ");
}
