/**
 * A reference (dske-python) client's wire towards one hub, built by hand as the reference does:
 * unauthenticated `PUT registration` `{client_name, encryptor_names}` and `GET psrd`, then
 * `POST key-share` (reference body, no SAE IDs) and `GET key-share?client_name=&key_id=`, signed
 * with @dske/auth's hmac-sha256 `DSKE-Signature` (request tag over raw query ‖ raw body, signing
 * key from the client-owned pool; answers verified with the hub-owned pool). Test-only.
 */
import { randomUUID } from "node:crypto";
import http from "node:http";
import { SIGNATURE_HEADER, signRequest, verifyResponse } from "@dske/auth";
import { MemoryStore } from "@dske/psrd";
import { allocationFromWire, allocationToWire, GetKeyShareResponseSchema } from "@dske/protocol";
import { clientMirror, type ClientMirror } from "./helpers";

export interface WireResponse {
  status: number;
  body: unknown;
  raw: Buffer;
  signature: string | undefined;
}

/** One HTTP exchange; `localAddress` picks the source address (e.g. 127.0.0.2 on Linux loopback). */
export function call(
  method: string,
  url: string,
  options: { headers?: Record<string, string>; body?: Buffer; localAddress?: string } = {},
): Promise<WireResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: options.headers, localAddress: options.localAddress, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const raw = Buffer.concat(chunks);
        let body: unknown;
        try {
          body = raw.length > 0 ? (JSON.parse(raw.toString("utf8")) as unknown) : undefined;
        } catch {
          body = raw.toString("utf8");
        }
        const sig = res.headers[SIGNATURE_HEADER.toLowerCase()];
        resolve({ status: res.statusCode ?? 0, body, raw, signature: typeof sig === "string" ? sig : undefined });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

export class ReferenceWireClient {
  private constructor(
    /** `http://127.0.0.1:PORT/hub/NAME` */
    readonly baseUrl: string,
    readonly name: string,
    readonly encryptors: readonly string[],
    /** local = client-owned pool, peer = hub-owned pool (hmac-sha256: no key prefix). */
    public mirror: ClientMirror,
    readonly localAddress: string | undefined,
  ) {}

  static async create(baseUrl: string, name: string, encryptors: readonly string[], localAddress?: string): Promise<ReferenceWireClient> {
    return new ReferenceWireClient(baseUrl, name, encryptors, await clientMirror(name, "hmac-sha256", new MemoryStore()), localAddress);
  }

  /** Forget the pools (what a restarted reference client has: nothing). */
  async restart(): Promise<void> {
    this.mirror = await clientMirror(this.name, "hmac-sha256", new MemoryStore());
  }

  register(): Promise<WireResponse> {
    const body = Buffer.from(JSON.stringify({ client_name: this.name, encryptor_names: [...this.encryptors] }));
    return call("PUT", `${this.baseUrl}/dske/oob/v1/registration`, {
      headers: { "Content-Type": "application/json" },
      body,
      localAddress: this.localAddress,
    });
  }

  /** `GET psrd` (the reference spells the pool `pool_owner`); adds a delivered block to the matching pool. */
  async requestPsrd(owner: "client" | "hub", size: number): Promise<WireResponse> {
    const q = new URLSearchParams({ client_name: this.name, pool_owner: owner, size: String(size) });
    const res = await call("GET", `${this.baseUrl}/dske/oob/v1/psrd?${q.toString()}`, { localAddress: this.localAddress });
    if (res.status === 200) {
      const b = res.body as { block_uuid: string; data: string };
      const data = new Uint8Array(Buffer.from(b.data, "base64"));
      await (owner === "client" ? this.mirror.local : this.mirror.peer).addBlock(b.block_uuid, data);
      data.fill(0);
    }
    return res;
  }

  /** Register and fetch one block per pool, failing the test if a step does. */
  async start(size = 4096): Promise<void> {
    for (const step of [() => this.register(), () => this.requestPsrd("client", size), () => this.requestPsrd("hub", size)]) {
      const res = await step();
      if (res.status !== 200) throw new Error(`${this.name}: ${res.status} ${JSON.stringify(res.body)}`);
    }
  }

  /** A signed request; a 200 answer's signature is verified (and its key consumed) before it is returned. */
  async signed(method: "GET" | "POST", route: string, query: string, body: Buffer = Buffer.alloc(0)): Promise<WireResponse> {
    const path = `${new URL(this.baseUrl).pathname}${route}`;
    const sig = await signRequest(this.mirror.peerAuth, { method, path, query, body });
    const headers: Record<string, string> = { [SIGNATURE_HEADER]: sig.header };
    if (body.length > 0) headers["Content-Type"] = "application/json";
    const url = `${this.baseUrl}${route}${query ? `?${query}` : ""}`;
    const res = await call(method, url, { headers, body: body.length > 0 ? body : undefined });
    if (res.status === 200) {
      await verifyResponse(this.mirror.peerAuth, { status: 200, header: res.signature, body: res.raw, requestTag: sig.requestTag, path });
    }
    return res;
  }

  /** POST key-share with the reference body: `client_name` = master, no SAE IDs. */
  async postShare(value: Uint8Array, keyId: string = randomUUID(), shareIndex = 0): Promise<{ keyId: string; res: WireResponse }> {
    const { allocation, data } = await this.mirror.local.allocate(value.length, "reference: encrypt share");
    const ct = Buffer.from(value.map((v, i) => v ^ data[i]));
    data.fill(0);
    const body = Buffer.from(
      JSON.stringify({
        client_name: this.name,
        user_key_id: keyId,
        share_index: shareIndex,
        encryption_key_allocation: allocationToWire(allocation),
        encrypted_share_value: ct.toString("base64"),
      }),
    );
    return { keyId, res: await this.signed("POST", "/dske/api/v1/key-share", "", body) };
  }

  /** GET key-share by key ID alone; on 200 also the decrypted value. */
  async getShare(keyId: string): Promise<{ res: WireResponse; shareIndex?: number; value?: Buffer }> {
    const res = await this.signed(
      "GET",
      "/dske/api/v1/key-share",
      new URLSearchParams({ client_name: this.name, key_id: keyId }).toString(),
    );
    if (res.status !== 200) return { res };
    const share = GetKeyShareResponseSchema.parse(res.body);
    const pad = await this.mirror.peer.take(allocationFromWire(share.encryption_key_allocation), "reference: decrypt share");
    const value = Buffer.from(share.encrypted_share_value, "base64").map((c, i) => c ^ pad[i]);
    pad.fill(0);
    return { res, shareIndex: share.share_index, value: Buffer.from(value) };
  }
}
