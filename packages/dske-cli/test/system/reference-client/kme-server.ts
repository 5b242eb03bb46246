/**
 * The reference client's HTTP surface (node:http, in the test process), per the guides:
 *
 * - `GET /client/{name}/etsi/api/v1/keys/{slave_SAE_ID}/enc_keys[?size=BITS]` →
 *   `{"keys": {"key_ID", "key"}}`: ONE object, as the protocol and user guides show (size default 128).
 * - `GET /client/{name}/etsi/api/v1/keys/{master_SAE_ID}/dec_keys?key_ID=UUID` →
 *   `{"keys": [{"key_ID", "key"}]}`: a list, as the user guide's output and the reference code
 *   (the protocol guide's block shows an object there; the user guide shows what the client sends).
 * - `GET /client/{name}/etsi/api/v1/keys/{slave_SAE_ID}/status` → the user guide's status fields.
 * - `GET /client/{name}/mgmt/v1/status` → `{name, encryptor_names, peer_hubs: [{hub_name,
 *   registered, local_pool: {blocks, owner}, peer_pool: {blocks, owner}}]}` (blocks without `data`).
 * - `POST /client/{name}/mgmt/v1/stop` → `{}`, then the node stops.
 *
 * No ETSI authentication (the reference has none): the calling SAE is `Authorization: <SAE ID>`
 * when given, else the client's only encryptor. Errors are FastAPI-style `{"detail": "..."}`.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { KmeError, type ReferenceClient } from "./reference-client";

const DEFAULT_KEY_SIZE_BITS = 128;

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

export class KmeServer {
  private server: http.Server | undefined;

  constructor(
    readonly client: ReferenceClient,
    readonly port: number,
    readonly host = "127.0.0.1",
  ) {}

  get baseUrl(): string {
    return `http://${this.host}:${this.boundPort}/client/${encodeURIComponent(this.client.name)}`;
  }

  get boundPort(): number {
    return this.server ? (this.server.address() as AddressInfo).port : this.port;
  }

  /** Listen, then start the client's registration tasks (as the reference's startup). */
  async listen(): Promise<void> {
    const server = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        this.handle(req, res).catch((err: unknown) => {
          if (err instanceof KmeError) send(res, err.status, { detail: err.message });
          else send(res, 500, { detail: err instanceof Error ? err.message : "internal error" });
        });
      });
    });
    server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, this.host, () => resolve());
    });
    this.server = server;
    this.client.start();
  }

  async close(): Promise<void> {
    this.client.stop();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }

  /** The SAE calling the ETSI API: `Authorization: <SAE ID>`, else the only local encryptor. */
  private callingSae(req: http.IncomingMessage): string {
    const encryptors = this.client.options.encryptors;
    const claimed = req.headers.authorization;
    if (claimed !== undefined) {
      if (!encryptors.includes(claimed)) throw new KmeError(401, `SAE ${claimed} is not attached to client ${this.client.name}`);
      return claimed;
    }
    if (encryptors.length === 1) return encryptors[0];
    throw new KmeError(401, `client ${this.client.name} has ${encryptors.length} encryptors: say which one calls (Authorization)`);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://kme");
    const prefix = `/client/${encodeURIComponent(this.client.name)}`;
    if (!url.pathname.startsWith(`${prefix}/`)) throw new KmeError(404, "Not Found");
    const rest = url.pathname.slice(prefix.length);
    const etsi = /^\/etsi\/api\/v1\/keys\/([^/]+)\/(enc_keys|dec_keys|status)$/.exec(rest);
    if (etsi) {
      if (req.method !== "GET") throw new KmeError(405, "Method Not Allowed");
      const peerSae = decodeURIComponent(etsi[1]);
      const sae = this.callingSae(req);
      if (etsi[2] === "enc_keys") {
        const size = url.searchParams.get("size");
        const bits = size === null ? DEFAULT_KEY_SIZE_BITS : Number(size);
        send(res, 200, { keys: await this.client.getKey(bits) });
      } else if (etsi[2] === "dec_keys") {
        const keyId = url.searchParams.get("key_ID");
        if (keyId === null) throw new KmeError(422, "key_ID is required");
        send(res, 200, { keys: [await this.client.getKeyWithKeyId(keyId)] });
      } else {
        send(res, 200, {
          source_kme_id: this.client.name,
          target_kme_id: "",
          master_sae_id: sae,
          slave_sae_id: peerSae,
          key_size: DEFAULT_KEY_SIZE_BITS,
          stored_key_count: 0,
          max_key_count: 1000,
          max_key_per_request: 1,
          max_key_size: 100_000,
          min_key_size: 32,
          max_sae_id_count: 0,
        });
      }
      return;
    }
    if (rest === "/mgmt/v1/status" && req.method === "GET") {
      send(res, 200, this.client.status());
      return;
    }
    if (rest === "/mgmt/v1/stop" && req.method === "POST") {
      res.on("finish", () => void this.close());
      send(res, 200, {});
      return;
    }
    throw new KmeError(404, "Not Found");
  }
}
