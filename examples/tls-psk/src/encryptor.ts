/**
 * An encryptor (SAE) as the ETSI GS QKD 014 standard sees it: it asks its own KME (a dske client)
 * for keys. The master SAE gets a new key for a slave SAE (`enc_keys`); the slave SAE gets the
 * same key from its own KME by the key's ID (`dec_keys`). Key values never leave this object
 * except as the returned Buffer, which the caller zeroes after use.
 */
import { EtsiApi } from "@dske/client";

export interface SharedKey {
  /** The ETSI key_ID (a UUID): used as the TLS PSK identity. */
  readonly keyId: string;
  /** The key bytes: used as the TLS PSK. */
  readonly key: Buffer;
}

export class Encryptor {
  private readonly etsi: EtsiApi;

  /** `kmeEtsiUrl`: the KME's ETSI base URL (`.../api/v1/keys` is appended), e.g. `http://127.0.0.1:18805/client/carol/etsi`. */
  constructor(
    readonly sae: string,
    kmeEtsiUrl: string,
  ) {
    this.etsi = new EtsiApi(kmeEtsiUrl, sae);
  }

  /** As master: a new key shared with `slaveSae` (`bits`: key size, default 256). */
  async newKeyFor(slaveSae: string, bits = 256): Promise<SharedKey> {
    const { keys } = await this.etsi.getKeys(slaveSae, { number: 1, size: bits });
    const k = keys.at(0);
    if (k === undefined) throw new Error(`KME returned no key for ${this.sae} -> ${slaveSae}`);
    return { keyId: k.key_ID, key: Buffer.from(k.key, "base64") };
  }

  /** As slave: the key `keyId` that `masterSae` got for this SAE. */
  async keyFrom(masterSae: string, keyId: string): Promise<SharedKey> {
    const { keys } = await this.etsi.getKeysWithKeyIds(masterSae, [keyId]);
    const k = keys.find((x) => x.key_ID === keyId);
    if (k === undefined) throw new Error(`KME did not return key ${keyId} from ${masterSae} to ${this.sae}`);
    return { keyId: k.key_ID, key: Buffer.from(k.key, "base64") };
  }

  close(): void {
    this.etsi.close();
  }
}
