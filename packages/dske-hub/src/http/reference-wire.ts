/**
 * The router's side of the reference-client mode (../reference-clients.ts): which requests are in
 * the reference wire, and for whom. Narrow by construction: every test below holds only for a
 * client the hub serves as a reference client, so every other request is validated and refused
 * exactly as without the mode.
 *
 * - `from`: an unauthenticated registration or `GET psrd` for a named reference client, from a
 *   listed source address (the TCP peer; `X-Forwarded-For` and the like are never trusted).
 * - `shareSigner` / `isShareBody`: a `POST key-share` body without `master_client_name`, whose
 *   `client_name` (the master) is a reference client.
 * - `isFetch`: a `GET key-share` without SAE IDs from a reference client.
 */
import type { Request } from "express";
import { normalizeAddress } from "../reference-clients.js";
import type { Hub } from "../hub.js";
import type { PsrdResponse } from "@dske/protocol";

/** The TCP peer's address (IPv4-mapped IPv6 written as IPv4), or undefined once the socket is gone. */
export function peerAddress(req: Request): string | undefined {
  const a = req.socket.remoteAddress;
  return a === undefined ? undefined : normalizeAddress(a);
}

/** The `GET psrd` answer; zeroes the block bytes once they are encoded. */
export function psrdBody(block: { blockUuid: string; data: Uint8Array }): PsrdResponse {
  const view = Buffer.from(block.data.buffer, block.data.byteOffset, block.data.byteLength);
  const body: PsrdResponse = { block_uuid: block.blockUuid, data: view.toString("base64") };
  block.data.fill(0);
  return body;
}

function field(value: unknown, name: string): unknown {
  return value !== null && typeof value === "object" ? (value as Record<string, unknown>)[name] : undefined;
}

export interface ReferenceWire {
  from: (req: Request, clientName: string) => boolean;
  shareSigner: (body: unknown) => unknown;
  isShareBody: (body: unknown) => boolean;
  isFetch: (query: unknown) => boolean;
}

export function referenceWire(hub: Hub): ReferenceWire {
  const isReference = (name: unknown) => typeof name === "string" && hub.isReferenceClient(name);
  const isShareBody = (body: unknown) => field(body, "master_client_name") === undefined && isReference(field(body, "client_name"));
  return {
    from: (req, clientName) => hub.referenceClientFrom(clientName, peerAddress(req)),
    // Only a reference client's body is resolved by `client_name`; every other body keeps `master_client_name` (absent → 401).
    shareSigner: (body) => (isShareBody(body) ? field(body, "client_name") : field(body, "master_client_name")),
    isShareBody,
    isFetch: (query) =>
      field(query, "master_sae_id") === undefined && field(query, "slave_sae_id") === undefined && isReference(field(query, "client_name")),
  };
}
