/**
 * Management calls on a node: `GET {base}/mgmt/v1/status` and `POST {base}/mgmt/v1/stop`.
 * No keep-alive: the CLI must never hold a connection that delays a node's shutdown.
 */
import http from "node:http";
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

/** Ask a node for its status; never throws. */
export async function probeNode(node: NodeSpec, timeoutMs = 2000): Promise<ProbeResult> {
  try {
    const res = await mgmtHttp.get(`${nodeBaseUrl(node)}/mgmt/v1/status`, { timeout: timeoutMs });
    if (res.status === 200 && typeof res.data === "object" && res.data !== null) {
      return { state: "up", status: res.data };
    }
    return { state: "foreign", detail: `HTTP ${res.status} from ${nodeBaseUrl(node)}/mgmt/v1/status` };
  } catch (err) {
    return { state: "down", detail: describeHttpError(err) };
  }
}

/** Ask a node to stop; true if it acknowledged. Never throws. */
export async function requestStop(node: NodeSpec, timeoutMs = 2000): Promise<boolean> {
  try {
    const res = await mgmtHttp.post(`${nodeBaseUrl(node)}/mgmt/v1/stop`, {}, { timeout: timeoutMs });
    return res.status >= 200 && res.status < 300;
  } catch {
    return false;
  }
}

export function describeHttpError(err: unknown): string {
  if (axios.isAxiosError(err)) return err.code ? `${err.code}: ${err.message}` : err.message;
  return err instanceof Error ? err.message : String(err);
}
