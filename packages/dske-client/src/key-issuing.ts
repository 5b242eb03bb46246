/**
 * Key issuing, the master side of ETSI Get key (enc_keys): keys come from the key stock
 * (key-stock.ts) when it has them for the pair and at least k hubs are known good, and are
 * established on demand otherwise (scatter.ts). The stock is refilled in the background as the
 * pair's demand warrants. Pairs whose slave is hosted by a reference-implementation KME
 * (reference-key.ts) get neither the stock nor multicast: the reference fetches each key alone
 * with `GET key-share`, knows no batch key IDs and no additional slaves.
 */
import { KmeError, badRequest } from "./errors.js";
import type { KeyContainer } from "@dske/protocol";
import type { EncKeysRequest } from "./etsi.js";
import type { KeyStock } from "./key-stock.js";
import type { Logger } from "./logger.js";
import type { PeerHub } from "./peer-hub.js";
import type { Scatter } from "./scatter.js";
import { MIN_REFERENCE_KEY_BITS } from "./reference-key.js";

/**
 * enc_keys for more keys than this bypass the key stock: such a request is a batch of its own (one
 * message per hub for all its keys), so the stock would only split it and add messages. Up to this
 * size many concurrent requests are served from refills of 512..2000 keys (key-stock.ts), i.e. far
 * fewer, bigger hub messages, so less node CPU per key than on demand (e2e bench, stock vs
 * on-demand scenarios: bench-results/e2e.json and the README's figures).
 */
const STOCK_MAX_REQUEST = 256;

export interface KeyIssuingDeps {
  hubs: readonly PeerHub[];
  k: number;
  stock: KeyStock;
  scatter: Scatter;
  logger: Logger;
  track: (p: Promise<unknown>) => void;
  stopped: () => boolean;
  /** SAE IDs hosted by reference-implementation KMEs. */
  referenceSaes: ReadonlySet<string>;
}

export class KeyIssuing {
  /** Keys handed to master SAEs from the stock / established on demand (status, bench). */
  readonly counts = { stock: 0, demand: 0, stockSkippedHubs: 0, reference: 0 };

  constructor(private readonly d: KeyIssuingDeps) {}

  /** Keys for an already validated request of `masterSae` towards `slaveSae` (+ additional slaves). */
  async issue(masterSae: string, slaveSae: string, request: EncKeysRequest): Promise<KeyContainer> {
    const { stock, k, logger } = this.d;
    const additional = request.additionalSlaves;
    const started = Date.now();
    const slaves = [slaveSae, ...additional];
    const reference = slaves.filter((s) => this.d.referenceSaes.has(s));
    if (reference.length > 0) this.checkReferenceRequest(reference, additional, request.size);

    // Single-slave keys come from the stock when it has them; the rest is established now.
    // A stocked key is handed out only while at least k hubs are known good (registered, last
    // exchange fine and recent) and the pair's demand is ongoing (key-stock.ts): otherwise the
    // request goes the on-demand way, which checks the hubs (`unavailable` naming the shortfall).
    // Requests for many keys are one batch anyway: they are established on demand and do not count
    // as stock demand (STOCK_MAX_REQUEST).
    const stockable = reference.length === 0 && additional.length === 0 && request.number <= STOCK_MAX_REQUEST && stock.enabled;
    const stockUsable = stockable && this.healthyHubs() >= k;
    const stocked = stockUsable ? stock.take(masterSae, slaveSae, request.size, request.number) : [];
    if (stockable && !stockUsable) this.counts.stockSkippedHubs += request.number;
    let fresh: { keyId: string; key: Uint8Array }[] = [];
    try {
      if (stocked.length < request.number) {
        fresh = await this.d.scatter.establish(masterSae, slaves, request.size, request.number - stocked.length);
      }
    } catch (err) {
      stock.putBack(masterSae, slaveSae, request.size, stocked);
      if (err instanceof KmeError) logger.warn("enc_keys failed", { master_sae: masterSae, slave_sae: slaveSae, err: err.message });
      throw err;
    } finally {
      if (stockable) this.maybeRefill(masterSae, slaveSae, request.size);
    }
    const made = [...stocked, ...fresh];
    this.counts.stock += stocked.length;
    this.counts.demand += fresh.length;
    if (reference.length > 0) this.counts.reference += fresh.length;
    const container: KeyContainer = {
      keys: made.map((m) => ({ key_ID: m.keyId, key: Buffer.from(m.key).toString("base64") })),
    };
    for (const m of made) m.key.fill(0);
    logger.info("keys issued", {
      master_sae: masterSae,
      slave_saes: slaves,
      number: request.number,
      size: request.size,
      from_stock: stocked.length,
      key_ids: summarizeIds(made.map((m) => m.keyId)),
      duration_ms: Date.now() - started,
    });
    return container;
  }

  /** What the reference format cannot carry: multicast, keys shorter than its 4-byte digest. */
  private checkReferenceRequest(reference: readonly string[], additional: readonly string[], size: number): void {
    if (additional.length > 0) {
      throw badRequest(
        `additional_slave_SAE_IDs: SAE(s) ${reference.join(", ")} are hosted by reference-implementation KMEs, which have no multicast; ` +
          "request their keys one slave at a time",
        [{ parameter: "additional_slave_SAE_IDs", reference_saes: [...reference] }],
      );
    }
    if (size < MIN_REFERENCE_KEY_BITS) {
      throw badRequest(
        `size: keys for ${reference.join(", ")} (reference-implementation KME) are at least ${MIN_REFERENCE_KEY_BITS} bits`,
        [{ parameter: "size", value: size, min: MIN_REFERENCE_KEY_BITS }],
      );
    }
  }

  /**
   * Hubs known good right now: registered, last exchange fine and recent (the stock's freshMs). Under
   * load the stock refills, acknowledgements and PSRD top-ups keep this fresh; after a quiet spell
   * the next request goes the on-demand way, which checks the hubs again.
   */
  private healthyHubs(): number {
    const since = Date.now() - this.d.stock.freshMs;
    let n = 0;
    for (const h of this.d.hubs) if (h.registered && h.lastError === undefined && h.lastOkAt >= since) n++;
    return n;
  }

  /** Start a background stock refill for the pair if one is due (key-stock.ts). */
  private maybeRefill(masterSae: string, slaveSae: string, size: number): void {
    const { stock } = this.d;
    if (this.d.stopped()) return;
    const order = stock.refillDue(masterSae, slaveSae, size);
    if (!order) return;
    this.d.track(
      this.d.scatter
        .establish(masterSae, [slaveSae], size, order.count, true)
        .then((keys) => {
          if (this.d.stopped()) {
            for (const k of keys) k.key.fill(0);
            return;
          }
          stock.add(masterSae, slaveSae, size, keys);
        })
        .catch((err: unknown) => {
          this.d.logger.warn("key stock refill failed", {
            master_sae: masterSae,
            slave_sae: slaveSae,
            count: order.count,
            err: err instanceof Error ? err.message : String(err),
          });
        })
        .finally(() => stock.refillDone(order)),
    );
  }
}

/** Key IDs for a log line: all of a few, else the first two and the count. */
export function summarizeIds(ids: readonly string[]): string {
  return ids.length <= 4 ? ids.join(",") : `${ids.slice(0, 2).join(",")},...(${ids.length})`;
}
