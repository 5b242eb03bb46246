/**
 * The slave agent: a tiny HTTP endpoint on the host's underlay address. The master agent posts
 * `{"key_ID", "master_SAE_ID"}` to `POST /psk`; the slave gets that key from its own KME
 * (`dec_keys`), sets it as the peer's preshared key, and answers `{"key_ID"}` once it is set.
 * Errors answer `{"message","details"}`: 400 for a bad request, 502 when the KME refuses or is
 * unreachable, 500 when `wg` fails. Requests are handled one at a time; a repeated request for the
 * key ID set last (a master retrying after a lost answer) answers 200 without asking the KME again.
 *
 * Only the key ID travels here; it is not secret (the KME hands the key to this SAE only, once).
 */
import http from "node:http";
import { z } from "zod";
import type { SlaveOptions } from "./agent-options.js";
import { Etsi014Client } from "./etsi014.js";
import { report } from "./events.js";
import { PSK_BYTES, setPresharedKey } from "./wg.js";

const PskRequestSchema = z.object({
  key_ID: z.string({ error: "expected key_ID (the ETSI key ID from enc_keys)" }).min(1).max(128),
  master_SAE_ID: z.string({ error: "expected master_SAE_ID (the SAE that called enc_keys)" }).min(1),
});

const MAX_BODY = 4096;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details: unknown[] = [],
  ) {
    super(message);
  }
}

export class SlaveAgent {
  private readonly kme: Etsi014Client;
  private readonly server: http.Server;
  private queue: Promise<unknown> = Promise.resolve();
  private rotations = 0;
  /** The key ID last set: a repeated request for it (a master retrying) answers 200 at once. */
  private lastKeyId: string | undefined;

  constructor(private readonly opts: SlaveOptions) {
    this.kme = new Etsi014Client(opts.kme, opts.sae);
    this.server = http.createServer((req, res) => void this.handle(req, res));
  }

  async start(): Promise<void> {
    const i = this.opts.listen.lastIndexOf(":");
    const host = this.opts.listen.slice(0, i);
    const port = Number(this.opts.listen.slice(i + 1));
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => resolve());
    });
    report({ event: "listening", role: "slave", address: this.opts.listen });
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    report({ event: "stopped", role: "slave" });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      if (req.url !== "/psk") throw new HttpError(404, `no route ${req.url ?? ""}; expected POST /psk`);
      if (req.method !== "POST") throw new HttpError(405, `expected POST /psk, got ${req.method ?? ""}`);
      const body = PskRequestSchema.safeParse(await readJson(req));
      if (!body.success) {
        throw new HttpError(
          400,
          "invalid /psk request",
          body.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })),
        );
      }
      if (body.data.master_SAE_ID !== this.opts.peerSae) {
        throw new HttpError(403, `this agent takes keys from ${this.opts.peerSae} only, not ${body.data.master_SAE_ID}`);
      }
      const keyId = body.data.key_ID;
      const run = this.queue.then(() => this.apply(keyId));
      this.queue = run.catch(() => undefined);
      await run;
      send(res, 200, { key_ID: keyId });
    } catch (err) {
      const e = err instanceof HttpError ? err : new HttpError(500, err instanceof Error ? err.message : String(err));
      report({ event: "error", role: "slave", message: e.message });
      send(res, e.status, { message: e.message, details: e.details });
    }
  }

  private async apply(keyId: string): Promise<void> {
    if (keyId === this.lastKeyId) return;
    let key: Buffer;
    try {
      ({ key } = await this.kme.decKey(this.opts.peerSae, keyId));
    } catch (err) {
      throw new HttpError(502, err instanceof Error ? err.message : String(err));
    }
    try {
      if (key.length !== PSK_BYTES)
        throw new HttpError(502, `key ${keyId} has ${key.length} bytes; a WireGuard preshared key needs ${PSK_BYTES}`);
      await setPresharedKey(this.opts.iface, this.opts.peerPublicKey, key);
    } finally {
      key.fill(0);
    }
    this.lastKeyId = keyId;
    this.rotations++;
    report({ event: "rotated", role: "slave", rotation: this.rotations, key_ID: keyId });
  }
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req) {
    const b = c as Buffer;
    size += b.length;
    if (size > MAX_BODY) throw new HttpError(413, `request body over ${MAX_BODY} bytes`);
    chunks.push(b);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new HttpError(400, "expected a JSON body {key_ID, master_SAE_ID}");
  }
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}
