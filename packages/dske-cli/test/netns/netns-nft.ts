/**
 * Impairments of a netns lab host with nftables, inside its own namespace (its ruleset is private
 * to it, so a host's whole ruleset is replaced at once with `nft -f -`):
 *   - isolated: every packet in or out dropped except on `lo` (a partitioned host);
 *   - blocked: packets to and from these addresses dropped (a partition between two hosts);
 *   - blockedPorts: packets to ADDR:PORT dropped (e.g. a relay standing in for a partitioned hub);
 *   - lossPercent: each outgoing packet dropped with this probability (`numgen random mod 100`);
 *   - redirects: TCP to ADDR:PORT rewritten to another ADDR:PORT (DNAT in the output hook), which
 *     sends a link through a user-space relay (delay-relay.ts) without changing the topology's URLs.
 */
import type { NetnsLab } from "./netns-lab";

export interface Redirect {
  addr: string;
  port: number;
  toAddr: string;
  toPort: number;
}

export interface HostPolicy {
  isolated?: boolean;
  blocked?: readonly string[];
  blockedPorts?: readonly { addr: string; port: number }[];
  lossPercent?: number;
  redirects?: readonly Redirect[];
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

function ip(a: string): string {
  if (!IPV4.test(a)) throw new Error(`netns nft: not an IPv4 address: ${a}`);
  return a;
}

function port(p: number): number {
  if (!Number.isInteger(p) || p < 1 || p > 65535) throw new Error(`netns nft: not a port: ${p}`);
  return p;
}

/** The nft script for one host's policy (replaces its whole ruleset). */
export function nftScript(p: HostPolicy): string {
  const input: string[] = ['iifname "lo" accept'];
  const output: string[] = ['oifname "lo" accept'];
  if (p.isolated === true) {
    input.push("drop");
    output.push("drop");
  }
  for (const a of p.blocked ?? []) {
    input.push(`ip saddr ${ip(a)} drop`);
    output.push(`ip daddr ${ip(a)} drop`);
  }
  for (const b of p.blockedPorts ?? []) output.push(`ip daddr ${ip(b.addr)} tcp dport ${port(b.port)} drop`);
  const loss = p.lossPercent ?? 0;
  if (loss > 0) {
    if (!Number.isInteger(loss) || loss > 99) throw new Error(`netns nft: loss must be a whole percentage below 100, got ${loss}`);
    output.push(`numgen random mod 100 < ${loss} counter drop`);
  }
  const nat = (p.redirects ?? []).map((r) => `ip daddr ${ip(r.addr)} tcp dport ${port(r.port)} dnat to ${ip(r.toAddr)}:${port(r.toPort)}`);
  const lines = [
    "flush ruleset",
    "table inet dske {",
    "  chain in {",
    "    type filter hook input priority 0; policy accept;",
    ...input.map((l) => `    ${l}`),
    "  }",
    "  chain out {",
    "    type filter hook output priority 0; policy accept;",
    ...output.map((l) => `    ${l}`),
    "  }",
    "}",
  ];
  if (nat.length > 0) {
    lines.push(
      "table ip dskenat {",
      "  chain out {",
      "    type nat hook output priority -100; policy accept;",
      ...nat.map((l) => `    ${l}`),
      "  }",
      "}",
    );
  }
  return `${lines.join("\n")}\n`;
}

/** Per-host policies of a lab, each applied atomically in its namespace. */
export class NetPolicies {
  private readonly policies = new Map<string, HostPolicy>();

  constructor(private readonly lab: NetnsLab) {}

  get(host: string): HostPolicy {
    return this.policies.get(host) ?? {};
  }

  /** Replace `host`'s policy (merging `change` into the current one) and apply it. */
  async update(host: string, change: HostPolicy): Promise<void> {
    const next = { ...this.get(host), ...change };
    await this.lab.must(host, "nft", ["-f", "-"], nftScript(next));
    this.policies.set(host, next);
  }

  /** Back to no rules at all on `host`. */
  async clear(host: string): Promise<void> {
    await this.lab.must(host, "nft", ["flush", "ruleset"]);
    this.policies.delete(host);
  }

  /** What `host`'s namespace has now (for failure messages). */
  async list(host: string): Promise<string> {
    return this.lab.must(host, "nft", ["list", "ruleset"]);
  }
}
