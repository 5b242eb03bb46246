/**
 * Host names and addresses of a multi-host topology: which are loopback, which are wildcards, the
 * default bind address of a node, the host part of a URL (IPv6 literals in brackets), and whether
 * a node's host is this machine (os.networkInterfaces(), loopback names, `start --on HOST`).
 */
import { isIP } from "node:net";
import os from "node:os";

/** `[::1]` → `::1`; lower case, trimmed. */
export function bareHost(host: string): string {
  return host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, "$1");
}

/** 127.0.0.0/8, ::1 (also `::ffff:127.x`), `localhost` and `*.localhost`. */
export function isLoopbackHost(host: string): boolean {
  const h = bareHost(host);
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  const v4 = h.startsWith("::ffff:") && isIP(h.slice(7)) === 4 ? h.slice(7) : h;
  if (isIP(v4) === 4) return v4.split(".")[0] === "127";
  if (isIP(h) === 6) return /^(0{0,4}:){2,7}0{0,3}1$/.test(h) || h === "::1";
  return false;
}

/** `0.0.0.0` and `::` (every interface). */
export function isWildcardAddress(host: string): boolean {
  const h = bareHost(host);
  return h === "0.0.0.0" || (isIP(h) === 6 && /^[0:]+$/.test(h));
}

/** Is it an IP literal (v4 or v6, brackets allowed)? */
export function isIpAddress(host: string): boolean {
  return isIP(bareHost(host)) !== 0;
}

/**
 * Where a node binds when its config names no `listen`: its host when that is an IP address,
 * 127.0.0.1 for a loopback name (`localhost`), else every interface (0.0.0.0).
 */
export function defaultListen(host: string): string {
  if (isIpAddress(host)) return bareHost(host);
  return isLoopbackHost(host) ? "127.0.0.1" : "0.0.0.0";
}

/** The host part of a URL: IPv6 literals in brackets. */
export function urlHost(host: string): string {
  const h = bareHost(host);
  return isIP(h) === 6 ? `[${h}]` : host.trim();
}

/**
 * One key per machine for "same host" checks: every loopback address and name is `loopback`;
 * other hosts compare as written (lower case, no brackets).
 */
export function machineKey(host: string): string {
  return isLoopbackHost(host) ? "loopback" : bareHost(host);
}

/** This machine's addresses (every interface, IPv4 and IPv6) and its host name. */
export function localAddresses(): Set<string> {
  const out = new Set<string>([bareHost(os.hostname())]);
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) out.add(bareHost(a.address.replace(/%.*$/, "")));
  }
  return out;
}

/**
 * Is a node whose `host` is this value placed on this machine? With `start --on HOST` values, yes
 * exactly for those (the operator says which host this machine is: behind NAT, or several "hosts"
 * sharing one loopback); else for loopback hosts and this machine's addresses and host name.
 */
export function isOnThisMachine(host: string, on: readonly string[] = [], local: ReadonlySet<string> = localAddresses()): boolean {
  const h = bareHost(host);
  if (on.length > 0) return on.some((o) => bareHost(o) === h);
  return isLoopbackHost(h) || local.has(h);
}
