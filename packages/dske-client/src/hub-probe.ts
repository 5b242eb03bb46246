/**
 * Hub probe: is a hub reachable right now? One TCP connection to the hub's host and port, bounded
 * by the connect timeout, then closed. It costs no PSRD (nothing is signed), so a client may
 * probe a hub it holds for down on every request that needs it (registration.ts `probe`),
 * instead of waiting for its registration backoff timer. The answer is the current state, in the
 * words a 503 message uses: "connection refused", "connect timed out after 3000 ms", ...
 */
import net from "node:net";

export type ProbeResult = { reachable: true } | { reachable: false; reason: string };

/** `probeHub` of each replica URL in parallel: reachable when one is (else the first one's reason). */
export async function probeReplicas(urls: readonly string[], timeoutMs: number): Promise<ProbeResult> {
  const results = await Promise.all(urls.map((u) => probeHub(u, timeoutMs)));
  return results.find((r) => r.reachable) ?? results[0];
}

/** Connect to the host and port of `url` within `timeoutMs`. */
export function probeHub(url: string, timeoutMs: number): Promise<ProbeResult> {
  let host: string;
  let port: number;
  try {
    const u = new URL(url);
    host = u.hostname.replace(/^\[(.*)\]$/, "$1"); // an IPv6 literal without its brackets
    port = u.port ? Number(u.port) : u.protocol === "https:" ? 443 : 80;
  } catch {
    return Promise.resolve({ reachable: false, reason: `invalid hub URL ${JSON.stringify(url)}` });
  }
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    let done = false;
    const finish = (r: ProbeResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ reachable: false, reason: `connect timed out after ${timeoutMs} ms` }), timeoutMs);
    socket.once("connect", () => finish({ reachable: true }));
    socket.once("error", (err: NodeJS.ErrnoException) =>
      finish({ reachable: false, reason: describeConnectError(err.code ?? err.message) }),
    );
  });
}

/** A connect error code in words ("connection refused"; other codes as they are). */
export function describeConnectError(code: string): string {
  if (code === "ECONNREFUSED") return "connection refused";
  if (code === "EHOSTUNREACH") return "host unreachable (EHOSTUNREACH)";
  if (code === "ENETUNREACH") return "network unreachable (ENETUNREACH)";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return `host name not resolved (${code})`;
  return `unreachable: ${code}`;
}

/**
 * Whether a transport error message says the request never left: the connection was not
 * established (refused, unreachable, unresolved, connect timeout). Such a call is safe to send
 * again whatever it does (the hub never saw it).
 */
export function isConnectFailure(message: string): boolean {
  return /ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|connect timed out/.test(message);
}
