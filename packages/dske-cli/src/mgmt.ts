/**
 * Management calls on a node: `GET {base}/mgmt/v1/status` and `POST {base}/mgmt/v1/stop`.
 * No keep-alive: the CLI must never hold a connection that delays a node's shutdown.
 * With `tls` (the operator's certificate), clients are called over HTTPS with mutual TLS (a TLS
 * client's management routes accept only the operator certificate); hubs stay plain HTTP.
 */
import http from "node:http";
import https from "node:https";
import type { TlsMaterial } from "./certs";
import axios, { type AxiosInstance } from "axios";
import { nodeBaseUrl, type NodeSpec } from "./topology";

const agent = new http.Agent({ keepAlive: false });

const mgmtHttp: AxiosInstance = axios.create({
  httpAgent: agent,
  proxy: false,
  validateStatus: () => true,
  // Status documents of busy hubs can be large; never cap them.
  maxContentLength: Infinity,
  transitional: { clarifyTimeoutError: true },
});

export type ProbeResult =
  | { readonly state: "up"; readonly status: unknown }
  /** Something answers on the port, but not this node's status route (another program or node). */
  | { readonly state: "foreign"; readonly detail: string }
  | { readonly state: "down"; readonly detail: string };

const tlsAgents = new WeakMap<TlsMaterial, https.Agent>();

/** Base URL and request options for a node: https + operator certificate for a client under TLS. */
function target(node: NodeSpec, tls: TlsMaterial | undefined): { base: string; httpsAgent?: https.Agent } {
  if (tls === undefined || node.kind !== "client") return { base: nodeBaseUrl(node) };
  let agent = tlsAgents.get(tls);
  if (agent === undefined) {
    agent = new https.Agent({ keepAlive: false, ca: tls.ca, cert: tls.cert, key: tls.key, minVersion: "TLSv1.2" });
    tlsAgents.set(tls, agent);
  }
  return { base: nodeBaseUrl(node, true), httpsAgent: agent };
}

/** Ask a node for its status; never throws. */
export async function probeNode(node: NodeSpec, timeoutMs = 2000, tls?: TlsMaterial): Promise<ProbeResult> {
  const { base, httpsAgent } = target(node, tls);
  try {
    const res = await mgmtHttp.get(`${base}/mgmt/v1/status`, { timeout: timeoutMs, httpsAgent });
    if (res.status === 200 && typeof res.data === "object" && res.data !== null) {
      return { state: "up", status: res.data };
    }
    return { state: "foreign", detail: `HTTP ${res.status} from ${base}/mgmt/v1/status` };
  } catch (err) {
    return { state: "down", detail: describeHttpError(err) };
  }
}

/** Ask a node to stop; true if it acknowledged. Never throws. */
export async function requestStop(node: NodeSpec, timeoutMs = 2000, tls?: TlsMaterial): Promise<boolean> {
  const { base, httpsAgent } = target(node, tls);
  try {
    const res = await mgmtHttp.post(`${base}/mgmt/v1/stop`, {}, { timeout: timeoutMs, httpsAgent });
    return res.status >= 200 && res.status < 300;
  } catch {
    return false;
  }
}

export function describeHttpError(err: unknown): string {
  if (axios.isAxiosError(err)) return err.code ? `${err.code}: ${err.message}` : err.message;
  return err instanceof Error ? err.message : String(err);
}
