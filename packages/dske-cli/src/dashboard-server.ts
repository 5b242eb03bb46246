/**
 * The dashboard's HTTP wiring (node:http, no framework): the page and its script and style
 * (self-contained, no CDN), the latest snapshot as JSON, and a Server-Sent Events stream that
 * pushes every new snapshot. The domain is in dashboard-model.ts / dashboard-poller.ts.
 *
 *   GET /                 the page
 *   GET /dashboard.js     its script;  GET /dashboard.css  its style
 *   GET /api/snapshot     the latest snapshot (503 before the first poll round)
 *   GET /api/events       text/event-stream: `event: snapshot` with the snapshot JSON, per round
 *
 * The dashboard shows SAE pairs and PSRD levels: it is for the operator only. It binds to a
 * loopback address, and every request needs its session cookie (HttpOnly, SameSite=Strict). The
 * cookie is set by opening the login URL it prints once (`/?token=<login token>`, a random
 * token of this run, good for one use); the browser is then redirected to `/` (the token leaves
 * the address bar). Anything else gets 401.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { DASHBOARD_CSS, DASHBOARD_HTML, DASHBOARD_JS } from "./dashboard-page";
import { DashboardPoller, type DashboardPollerOptions } from "./dashboard-poller";
import type { Topology } from "./topology";

export interface DashboardServerOptions extends DashboardPollerOptions {
  /** Interface to bind (default 127.0.0.1; loopback only: the caller checks). */
  host?: string;
  /** TCP port (0 = any free port). */
  port: number;
  /** The one-time login token of this run (default: 32 random bytes, hex). */
  loginToken?: string;
}

export interface DashboardServer {
  /** `http://HOST:PORT` */
  readonly url: string;
  /** `http://HOST:PORT/?token=<login token>`: open once in the browser to get the session cookie. */
  readonly loginUrl: string;
  readonly port: number;
  readonly poller: DashboardPoller;
  /** Stop polling, end the event streams and close the server. */
  close(): Promise<void>;
}

const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "content-security-policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
  "cache-control": "no-store",
};

function send(res: http.ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { ...SECURITY_HEADERS, "content-type": type, "content-length": Buffer.byteLength(body) });
  res.end(body);
}

function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  send(res, status, "application/json; charset=utf-8", JSON.stringify(value));
}

const digest = (s: string): Buffer => createHash("sha256").update(s, "utf8").digest();
const sameSecret = (a: string, b: Buffer): boolean => timingSafeEqual(digest(a), b);

/** The value of cookie `name` in a Cookie header, or undefined. */
function cookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export async function startDashboardServer(topology: Topology, options: DashboardServerOptions): Promise<DashboardServer> {
  const host = options.host ?? "127.0.0.1";
  const poller = new DashboardPoller(topology, options);
  const streams = new Set<http.ServerResponse>();
  const loginToken = options.loginToken ?? randomBytes(32).toString("hex");
  const loginDigest = digest(loginToken);
  let loginUsed = false;
  const session = randomBytes(32).toString("hex");
  const sessionDigest = digest(session);
  // Cookies ignore ports: one name per dashboard port, so two dashboards on one host do not clash.
  let cookieName = "dske_dashboard";

  const unauthorized = (res: http.ServerResponse, message: string): void => {
    sendJson(res, 401, {
      message,
      details: [
        { how: "open the URL that `dske-cli dashboard` printed (http://HOST:PORT/?token=...) once; restart the dashboard for a new one" },
      ],
    });
  };

  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const url = new URL(req.url ?? "/", "http://dashboard.invalid");
    const path = url.pathname;
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      sendJson(res, 405, { message: `method ${req.method} not allowed (the dashboard is read-only)` });
      return;
    }
    const presentedSession = cookie(req.headers.cookie, cookieName);
    const loggedIn = presentedSession !== undefined && sameSecret(presentedSession, sessionDigest);
    const token = url.searchParams.get("token");
    if (token !== null && (path === "/" || path === "/index.html")) {
      if (loggedIn || (!loginUsed && sameSecret(token, loginDigest))) {
        loginUsed = true;
        res.writeHead(303, {
          ...SECURITY_HEADERS,
          location: "/",
          "set-cookie": `${cookieName}=${session}; HttpOnly; SameSite=Strict; Path=/`,
          "content-length": 0,
        });
        res.end();
        return;
      }
      unauthorized(res, loginUsed ? "this login link was already used" : "wrong dashboard token");
      return;
    }
    if (!loggedIn) {
      unauthorized(res, "the dashboard needs its session: open the login URL printed by dske-cli dashboard");
      return;
    }
    switch (path) {
      case "/":
      case "/index.html":
        send(res, 200, "text/html; charset=utf-8", DASHBOARD_HTML);
        return;
      case "/dashboard.js":
        send(res, 200, "text/javascript; charset=utf-8", DASHBOARD_JS);
        return;
      case "/dashboard.css":
        send(res, 200, "text/css; charset=utf-8", DASHBOARD_CSS);
        return;
      case "/api/snapshot": {
        const s = poller.latest;
        if (s === undefined) sendJson(res, 503, { message: "no poll round completed yet; retry in a second" });
        else sendJson(res, 200, s);
        return;
      }
      case "/api/events": {
        res.writeHead(200, {
          ...SECURITY_HEADERS,
          "content-type": "text/event-stream; charset=utf-8",
          connection: "keep-alive",
        });
        if (req.method === "HEAD") {
          res.end();
          return;
        }
        res.write(`retry: ${Math.max(500, poller.pollMs)}\n\n`);
        const push = (snapshot: unknown): void => {
          res.write(`event: snapshot\ndata: ${JSON.stringify(snapshot)}\n\n`);
        };
        if (poller.latest !== undefined) push(poller.latest);
        const unsubscribe = poller.subscribe(push);
        streams.add(res);
        const heartbeat = setInterval(() => res.write(": keep-alive\n\n"), 15_000);
        res.on("close", () => {
          clearInterval(heartbeat);
          unsubscribe();
          streams.delete(res);
        });
        return;
      }
      default:
        sendJson(res, 404, { message: `no such page: ${path} (try / or /api/snapshot)` });
    }
  };

  const server = http.createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  poller.start();
  const port = (server.address() as AddressInfo).port;
  cookieName = `dske_dashboard_${port}`;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}`,
    loginUrl: `http://${shownHost}:${port}/?token=${loginToken}`,
    port,
    poller,
    close: async () => {
      await poller.stop();
      for (const s of streams) s.end();
      streams.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
