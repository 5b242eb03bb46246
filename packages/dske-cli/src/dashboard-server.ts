/**
 * The dashboard's HTTP wiring (node:http, no framework): the page and its script and style
 * (self-contained, no CDN), the latest snapshot as JSON, and a Server-Sent Events stream that
 * pushes every new snapshot. The domain is in dashboard-model.ts / dashboard-poller.ts.
 *
 *   GET /                 the page
 *   GET /dashboard.js     its script;  GET /dashboard.css  its style
 *   GET /api/snapshot     the latest snapshot (503 before the first poll round)
 *   GET /api/events       text/event-stream: `event: snapshot` with the snapshot JSON, per round
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { DASHBOARD_CSS, DASHBOARD_HTML, DASHBOARD_JS } from "./dashboard-page";
import { DashboardPoller, type DashboardPollerOptions } from "./dashboard-poller";
import type { Topology } from "./topology";

export interface DashboardServerOptions extends DashboardPollerOptions {
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** TCP port (0 = any free port). */
  port: number;
}

export interface DashboardServer {
  /** `http://HOST:PORT` */
  readonly url: string;
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

export async function startDashboardServer(topology: Topology, options: DashboardServerOptions): Promise<DashboardServer> {
  const host = options.host ?? "127.0.0.1";
  const poller = new DashboardPoller(topology, options);
  const streams = new Set<http.ServerResponse>();

  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      sendJson(res, 405, { message: `method ${req.method} not allowed (the dashboard is read-only)` });
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
  const shownHost = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}`,
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
