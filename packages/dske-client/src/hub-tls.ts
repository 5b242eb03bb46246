/**
 * TLS towards the hubs: how an `https://` hub URL is verified (ClientOptions.hubTls, the
 * standalone's `--hub-ca`) and which plain `http://` hub URLs leave the machine in clear.
 *
 * With a CA, a hub's server certificate must chain to it (and only to it: the system CAs are
 * then not trusted) and name the URL's host in its SANs (Node's default server-identity check;
 * the SNI server name is the URL's host). Without one, the system CAs apply. Verification is never
 * turned off.
 */
import type https from "node:https";
import { isLoopbackHost } from "@dske/server";

/** How the client verifies hubs served over HTTPS. */
export interface HubTlsOptions {
  /** PEM CA certificate(s) the hubs' server certificates must chain to (default: the system CAs). */
  ca?: string | Buffer | ReadonlyArray<string | Buffer>;
}

/** Least TLS version spoken to a hub. */
export const HUB_TLS_MIN_VERSION = "TLSv1.2";

/** The https agent options of the links to the hubs (keep-alive is the transport's). */
export function hubAgentTls(options: HubTlsOptions | undefined): https.AgentOptions {
  const ca = options?.ca;
  return {
    minVersion: HUB_TLS_MIN_VERSION,
    ...(ca !== undefined ? { ca: Array.isArray(ca) ? [...(ca as ReadonlyArray<string | Buffer>)] : (ca as string | Buffer) } : {}),
  };
}

/** Whether a hub URL is `https://`. */
export function isTlsHubUrl(url: string): boolean {
  return url.trim().toLowerCase().startsWith("https:");
}

/** Hub URLs over plain HTTP whose host is not loopback: their traffic crosses the network in clear. */
export function plainRemoteHubUrls(urls: readonly string[]): string[] {
  // A hub entry may list its replicas (`URL|URL`): each of them is checked.
  return urls
    .flatMap((entry) => entry.split("|").map((u) => u.trim()))
    .filter((u) => {
      try {
        const url = new URL(u);
        return url.protocol === "http:" && !isLoopbackHost(url.hostname);
      } catch {
        return false;
      }
    });
}
