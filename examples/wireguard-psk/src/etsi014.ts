/**
 * A minimal ETSI GS QKD 014 client, as an encryptor vendor would write it: plain `fetch` against
 * the KME's REST API, answers validated with zod. Over plain HTTP the SAE names itself in the
 * `Authorization` header (what dske's KMEs accept on loopback or with `insecure: true`; with TLS
 * the SAE's client certificate does it instead).
 *
 * `baseUrl` is everything before `/api/v1/keys`, e.g. `http://10.213.7.1:19805/client/carol/etsi`.
 */
import { z } from "zod";

const KeySchema = z.object({ key_ID: z.string().min(1), key: z.string().min(1) });
const KeyContainerSchema = z.object({ keys: z.array(KeySchema) });
const ErrorSchema = z.object({ message: z.string() });

export interface EtsiKey {
  /** The key's ID (a UUID): not secret, the slave SAE asks its KME for the key by it. */
  readonly keyId: string;
  /** The key bytes: the caller zeroes them after use. */
  readonly key: Buffer;
}

export class Etsi014Client {
  readonly baseUrl: string;

  constructor(
    baseUrl: string,
    /** This SAE's ID (`Authorization` header over plain HTTP). */
    readonly sae: string,
    private readonly timeoutMs = 30_000,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
  }

  /** Get key (`enc_keys`), as master: one new key of `bits` bits shared with `slaveSae`. */
  async encKey(slaveSae: string, bits: number): Promise<EtsiKey> {
    const keys = await this.post(`${encodeURIComponent(slaveSae)}/enc_keys`, { number: 1, size: bits });
    const k = keys.at(0);
    if (k === undefined) throw new Error(`KME at ${this.baseUrl} returned no key for ${this.sae} -> ${slaveSae}`);
    return k;
  }

  /** Get key with key IDs (`dec_keys`), as slave: the key `keyId` that `masterSae` got for this SAE. */
  async decKey(masterSae: string, keyId: string): Promise<EtsiKey> {
    const keys = await this.post(`${encodeURIComponent(masterSae)}/dec_keys`, { key_IDs: [{ key_ID: keyId }] });
    const k = keys.find((x) => x.keyId === keyId);
    if (k === undefined) throw new Error(`KME at ${this.baseUrl} did not return key ${keyId} from ${masterSae} to ${this.sae}`);
    return k;
  }

  private async post(route: string, body: unknown): Promise<EtsiKey[]> {
    const url = `${this.baseUrl}/api/v1/keys/${route}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: this.sae },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      throw new Error(`KME unreachable at ${url}: ${cause ?? (err instanceof Error ? err.message : String(err))}`, { cause: err });
    }
    const json: unknown = await res.json().catch(() => undefined);
    if (!res.ok) {
      const e = ErrorSchema.safeParse(json);
      throw new Error(`KME at ${url} answered HTTP ${res.status}: ${e.success ? e.data.message : "(no message)"}`);
    }
    const parsed = KeyContainerSchema.safeParse(json);
    if (!parsed.success) throw new Error(`invalid answer from the KME at ${url}: ${parsed.error.issues.map((i) => i.message).join("; ")}`);
    return parsed.data.keys.map((k) => ({ keyId: k.key_ID, key: Buffer.from(k.key, "base64") }));
  }
}
