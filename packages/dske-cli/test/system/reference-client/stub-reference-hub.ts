/**
 * A minimal hub speaking the reference wire, in process, written from the protocol guide
 * independently of @dske/hub (not a model of our hub): the reference hubs of the emulator's own
 * tests (emulator.test.ts), of our client's tests against reference hubs
 * (packages/dske-client/test/reference-hubs.test.ts) and of the mixed system topologies
 * (reference-mixed-topologies.test.ts: listening on the topology's port, `listen(port)`).
 *
 * - `PUT registration` and `GET psrd` unauthenticated; a registration (again) gives the client two
 *   new, empty pools (what a reference hub does: a client registering again starts over).
 * - `POST key-share` stores the decrypted share and answers a signed `null`; `GET key-share`
 *   answers the share re-encrypted with hub-owned PSRD, signed, and forgets it (one fetch); a
 *   client it does not know gets the unsigned 400 "Client NAME is not registered." of the reference.
 * - `GET mgmt/v1/status`: the reference's status shape (`name`, `peer_clients` with their pools'
 *   block view), never PSRD bytes.
 * Requests are checked with @dske/auth's hmac-sha256. A restart (state lost) is `close()` and a new
 * instance on the same port.
 */
import { randomBytes, randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { decodeStrictBase64, formatSignatureHeader, hmacSha256Scheme } from "@dske/auth";
import { allocationString, parseAllocationString, Pool, xorPad, type WireFragment } from "./psrd-pool";

interface ClientPools {
  /** Client-owned: the hub takes what the client names. */
  readonly clientOwned: Pool;
  /** Hub-owned: the hub allocates. */
  readonly hubOwned: Pool;
}

export class StubReferenceHub {
  private readonly clients = new Map<string, ClientPools>();
  private readonly shares = new Map<string, { shareIndex: number; value: Uint8Array }>();
  private server: http.Server | undefined;
  /** Flip a bit of the next response signature (a forged answer). */
  forgeNextSignature = false;
  /** Answer 503 to everything (a hub that is down). */
  down = false;
  /** `client:pool_owner` of every PSRD request, in order. */
  readonly psrdRequests: string[] = [];
  /** The client name of every registration, in order. */
  readonly registrations: string[] = [];
  /** `client:key_id` of every share stored (POST key-share), in order. */
  readonly postedShares: string[] = [];

  constructor(readonly name: string) {}

  get baseUrl(): string {
    const port = this.server ? (this.server.address() as AddressInfo).port : 0;
    return `http://127.0.0.1:${port}/hub/${this.name}`;
  }

  /** Listen on 127.0.0.1:`port` (0: a free port the OS picks). */
  async listen(port = 0): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        try {
          this.handle(req, res, Buffer.concat(chunks));
        } catch (err) {
          this.send(res, 400, { detail: err instanceof Error ? err.message : String(err) });
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }

  private send(res: http.ServerResponse, status: number, body: unknown, pools?: ClientPools): void {
    const bytes = Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (pools) {
      const key = pools.hubOwned.allocate(32);
      const tag = hmacSha256Scheme.sign(key.data, [bytes]);
      key.data.fill(0);
      if (this.forgeNextSignature) {
        this.forgeNextSignature = false;
        tag[0] ^= 1;
      }
      headers["DSKE-Signature"] = formatSignatureHeader({ allocation: allocationString(key.fragments), tag });
    }
    res.writeHead(status, headers);
    res.end(bytes);
  }

  private pools(name: unknown): ClientPools {
    const pools = typeof name === "string" ? this.clients.get(name) : undefined;
    if (!pools) throw new Error(`Client ${String(name)} is not registered.`);
    return pools;
  }

  /** Verify a request's DSKE-Signature (raw query ‖ raw body) with the client-owned pool. */
  private verify(req: http.IncomingMessage, pools: ClientPools, query: string, body: Buffer): void {
    const header = req.headers["dske-signature"];
    if (typeof header !== "string") throw new Error("unsigned");
    const [alloc, tag] = header.split("%");
    const key = pools.clientOwned.take(parseAllocationString(alloc));
    const ok = hmacSha256Scheme.verify(key.data, [Buffer.from(query), body], decodeStrictBase64(tag));
    key.data.fill(0);
    if (!ok) throw new Error("bad signature");
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void {
    if (this.down) {
      this.send(res, 503, { detail: "down" });
      return;
    }
    const url = new URL(req.url ?? "/", "http://hub");
    const query = url.search.slice(1);
    const route = `${req.method ?? ""} ${url.pathname.slice(`/hub/${this.name}`.length)}`;
    if (route === "PUT /dske/oob/v1/registration") {
      const { client_name } = JSON.parse(body.toString()) as { client_name: string };
      this.clients.set(client_name, { clientOwned: new Pool("peer"), hubOwned: new Pool("local") });
      this.registrations.push(client_name);
      this.send(res, 200, { hub_name: this.name });
    } else if (route === "GET /mgmt/v1/status") {
      const peer_clients = [...this.clients].map(([client_name, p]) => ({
        client_name,
        local_pool: p.hubOwned.status(),
        peer_pool: p.clientOwned.status(),
      }));
      this.send(res, 200, { name: this.name, peer_clients, shares: [...this.shares.keys()].map((key_id) => ({ key_id })) });
    } else if (route === "GET /dske/oob/v1/psrd") {
      const client = url.searchParams.get("client_name");
      const pools = this.pools(client);
      const owner = url.searchParams.get("pool_owner");
      this.psrdRequests.push(`${String(client)}:${String(owner)}`);
      const data = randomBytes(Number(url.searchParams.get("size")));
      const uuid = randomUUID();
      (owner === "client" ? pools.clientOwned : pools.hubOwned).addBlock(uuid, Uint8Array.from(data));
      this.send(res, 200, { block_uuid: uuid, data: data.toString("base64") });
    } else if (route === "POST /dske/api/v1/key-share") {
      const share = JSON.parse(body.toString()) as {
        client_name: string;
        user_key_id: string;
        share_index: number;
        encryption_key_allocation: { fragments: WireFragment[] };
        encrypted_share_value: string;
      };
      const pools = this.pools(share.client_name);
      this.verify(req, pools, query, body);
      const pad = pools.clientOwned.take(share.encryption_key_allocation.fragments);
      const value = xorPad(Buffer.from(share.encrypted_share_value, "base64"), pad.data);
      this.shares.set(share.user_key_id, { shareIndex: share.share_index, value });
      this.postedShares.push(`${share.client_name}:${share.user_key_id}`);
      this.send(res, 200, null, pools);
    } else if (route === "GET /dske/api/v1/key-share") {
      const pools = this.pools(url.searchParams.get("client_name"));
      this.verify(req, pools, query, body);
      const keyId = url.searchParams.get("key_id") ?? "";
      const share = this.shares.get(keyId);
      if (!share) {
        this.send(res, 404, { detail: "no such share" });
        return;
      }
      this.shares.delete(keyId);
      const pad = pools.hubOwned.allocate(share.value.length);
      const encrypted = xorPad(share.value, pad.data);
      this.send(
        res,
        200,
        {
          share_index: share.shareIndex,
          encryption_key_allocation: { fragments: pad.fragments },
          encrypted_share_value: Buffer.from(encrypted).toString("base64"),
        },
        pools,
      );
    } else {
      this.send(res, 404, { detail: "Not Found" });
    }
  }
}
