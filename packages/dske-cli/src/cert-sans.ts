/**
 * The SANs of each server certificate of a topology (certs.ts serverSans: the node's host, its
 * listen address unless a wildcard, 127.0.0.1, localhost), plus the extra names given to
 * `dske-cli certs --san`, which are recorded in `<state>/tls/extra-sans.json` so that a later
 * `start` (which creates missing certificates) issues the same SANs.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { certLayout, CertError, serverSans } from "./certs";
import type { Topology } from "./topology";

const ExtraSansSchema = z.array(z.string().min(1));

function extraSansFile(stateRoot: string): string {
  return path.join(certLayout(stateRoot).dir, "extra-sans.json");
}

/** The extra SANs recorded by `dske-cli certs --san` ([] if none). */
export function readExtraSans(stateRoot: string): string[] {
  const file = extraSansFile(stateRoot);
  if (!existsSync(file)) return [];
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new CertError(`${file}: not JSON (${(err as Error).message}); remove it or run 'dske-cli certs --san NAME ...' again`);
  }
  const parsed = ExtraSansSchema.safeParse(json);
  if (!parsed.success)
    throw new CertError(`${file}: expected a JSON list of host names and addresses; remove it or run 'dske-cli certs' again`);
  return parsed.data;
}

export function writeExtraSans(stateRoot: string, sans: readonly string[]): void {
  const file = extraSansFile(stateRoot);
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${JSON.stringify([...sans])}\n`);
}

/** SANs per server certificate of the topology: each node's names, then `extra` (default: the recorded ones). */
export function certSansFor(
  topology: Topology,
  stateRoot: string,
  extra?: readonly string[],
): (kind: "hub" | "client", name: string) => string[] {
  const more = extra ?? readExtraSans(stateRoot);
  return (kind, name) => {
    const node = (kind === "hub" ? topology.hubs : topology.clients).find((n) => n.name === name);
    return serverSans(node ?? {}, more);
  };
}
