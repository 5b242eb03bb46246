/**
 * Management calls on a node: `GET {base}/mgmt/v1/status` and `POST {base}/mgmt/v1/stop`.
 * No keep-alive: the CLI must never hold a connection that delays a node's shutdown.
 *
 * The operator credential (OperatorCredential): the topology's operator token goes to every node
 * as `Authorization: Bearer <token>` (see operator-token.ts); with `tls` (the operator's
 * certificate), our nodes are called over HTTPS at their host and port, verified against the
 * topology CA, and the certificate proves the operator too. Reference-implementation hubs stay
 * plain HTTP. Writes carry `Content-Type: application/json` (the nodes
 * refuse other content types on management writes).
 */
import http from "node:http";
import https from "node:https";
import type { TlsMaterial } from "./certs";
import { jsonRequest } from "@dske/protocol";
import { isExternal, nodeBaseUrl, type NodeSpec } from "./topology";

/** Management calls use node:http(s) (`jsonRequest`, no HTTP library): `start`, `stop` and `status` load faster. */
const agent = new http.Agent({ keepAlive: false });

export type ProbeResult =
  | { readonly state: "up"; readonly status: unknown }
  /** Something answers on the port, but not this node's status route (another program or node). */
  | { readonly state: "foreign"; readonly detail: string }
  /** Nothing answered; `timedOut` when the request ran out of time (the node may be busy, not gone). */
  | { readonly state: "down"; readonly detail: string; readonly timedOut?: boolean };

/** What proves the operator to the nodes of a topology. */
export interface OperatorCredential {
  /** The topology's operator token (`<state_dir>/operator-token`), sent to every node. */
  readonly token?: string;
  /** The operator's certificate while the topology's clients run with mutual TLS. */
  readonly tls?: TlsMaterial;
}

const tlsAgents = new WeakMap<TlsMaterial, https.Agent>();

/** The https agent presenting the operator's certificate (one per material). */
export function operatorAgent(tls: TlsMaterial): https.Agent {
  let agent = tlsAgents.get(tls);
  if (agent === undefined) {
    agent = new https.Agent({ keepAlive: false, ca: tls.ca, cert: tls.cert, key: tls.key, minVersion: "TLSv1.2" });
    tlsAgents.set(tls, agent);
  }
  return agent;
}

/** The Authorization header of the operator token (none without a token). */
export function operatorHeaders(credential: OperatorCredential | undefined): Record<string, string> {
  return credential?.token !== undefined ? { Authorization: `Bearer ${credential.token}` } : {};
}

/** Base URL and request options for a node: https + operator certificate for our nodes under TLS. */
export function operatorTarget(node: NodeSpec, credential: OperatorCredential | undefined): { base: string; httpsAgent?: https.Agent } {
  const tls = credential?.tls;
  if (tls === undefined || (node.kind === "hub" && isExternal(node))) return { base: nodeBaseUrl(node) };
  return { base: nodeBaseUrl(node, true), httpsAgent: operatorAgent(tls) };
}

/** `HTTP 401 from URL: message` (the node's error message, if it sent one). */
function refusal(status: number, url: string, data: unknown): string {
  const message =
    typeof data === "object" && data !== null && typeof (data as { message?: unknown }).message === "string"
      ? (data as { message: string }).message
      : "";
  return `HTTP ${status} from ${url}${message ? `: ${message.slice(0, 200)}` : ""}`;
}

/** Ask a node for its status; never throws. */
export async function probeNode(
  node: NodeSpec,
  timeoutMs = 2000,
  credential?: OperatorCredential,
  /** A client's status as a long poll: answered once it is ready, or after this many ms (within the timeout too). */
  waitReadyMs?: number,
): Promise<ProbeResult> {
  const { base, httpsAgent } = operatorTarget(node, credential);
  const url = `${base}/mgmt/v1/status`;
  try {
    const res = await jsonRequest(waitReadyMs === undefined ? url : `${url}?wait_ready_ms=${waitReadyMs}`, {
      method: "GET",
      timeoutMs: timeoutMs + (waitReadyMs ?? 0),
      agent,
      httpsAgent,
      headers: operatorHeaders(credential),
    });
    if (res.status === 200 && typeof res.data === "object" && res.data !== null) {
      return { state: "up", status: res.data };
    }
    return { state: "foreign", detail: refusal(res.status, url, res.data) };
  } catch (err) {
    const detail = describeHttpError(err);
    return (err as { code?: unknown } | null)?.code === "ETIMEDOUT" ? { state: "down", detail, timedOut: true } : { state: "down", detail };
  }
}

/** Ask a node to stop; true if it acknowledged. Never throws. */
export async function requestStop(node: NodeSpec, timeoutMs = 2000, credential?: OperatorCredential): Promise<boolean> {
  const { base, httpsAgent } = operatorTarget(node, credential);
  try {
    const res = await jsonRequest(`${base}/mgmt/v1/stop`, {
      method: "POST",
      timeoutMs,
      agent,
      httpsAgent,
      headers: operatorHeaders(credential),
      body: {},
    });
    return res.status >= 200 && res.status < 300;
  } catch {
    return false;
  }
}

export function describeHttpError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  // A refused connection to a name with several addresses is an AggregateError with an empty message.
  const message =
    err.message || (err instanceof AggregateError ? err.errors.map((e) => (e instanceof Error ? e.message : String(e))).join("; ") : "");
  return code ? `${code}: ${message}` : message;
}
