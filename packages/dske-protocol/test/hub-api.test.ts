import diagnosticsChannel from "node:diagnostics_channel";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { HUB_API_REQUEST_CHANNEL, HubApi, HubApiError, type HubApiRequestMessage } from "../src/index.js";

type Handler = (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void;

let server: http.Server;
let base: string;
let handler: Handler;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => handler(req, Buffer.concat(chunks).toString("utf8"), res));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hub/hank`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

const json = (res: http.ServerResponse, status: number, value: unknown) => {
  res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(value));
};

async function failure(p: Promise<unknown>): Promise<HubApiError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HubApiError);
  return err as HubApiError;
}

describe("HubApi over its node:http transport (unsigned calls)", () => {
  test("bearer and operator tokens, JSON bodies, query parameters", async () => {
    const seen: { method?: string; url?: string; auth?: string; type?: string; body: string }[] = [];
    handler = (req, body, res) => {
      seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, type: req.headers["content-type"], body });
      if (req.url?.includes("/psrd")) {
        json(res, 200, { block_uuid: "0f3c9a50-1111-4222-8333-444455556666", data: Buffer.alloc(4, 7).toString("base64") });
        return;
      }
      if (req.url?.includes("/mgmt/v1/stop")) {
        json(res, 200, { message: "stopping" });
        return;
      }
      json(res, 200, { hub_name: "hank", unregistered: true });
    };
    const api = new HubApi(`${base}/`, { bearerToken: "enroll", operatorToken: "op" });
    expect(api.baseUrl).toBe(base);
    expect(await api.register({ client_name: "carol" })).toEqual({ hub_name: "hank" });
    expect((await api.getPsrd({ client_name: "carol", pool_owner: "hub", size: 4 })).data).toEqual(new Uint8Array(4).fill(7));
    expect(await api.unregister("carol")).toEqual({ hub_name: "hank", unregistered: true });
    expect(await api.stop()).toEqual({ message: "stopping" });
    expect(seen).toEqual([
      {
        method: "PUT",
        url: "/hub/hank/dske/oob/v1/registration",
        auth: "Bearer enroll",
        type: "application/json",
        body: '{"client_name":"carol"}',
      },
      {
        method: "GET",
        url: "/hub/hank/dske/oob/v1/psrd?client_name=carol&pool_owner=hub&size=4",
        auth: "Bearer enroll",
        type: undefined,
        body: "",
      },
      {
        method: "DELETE",
        url: "/hub/hank/dske/oob/v1/registration?client_name=carol",
        auth: "Bearer enroll",
        type: "application/json",
        body: "",
      },
      { method: "POST", url: "/hub/hank/mgmt/v1/stop", auth: "Bearer op", type: "application/json", body: "{}" },
    ]);
    expect(api.requests).toBe(4);
    api.close();
  });

  test("errors: HTTP status with the hub's ErrorBody, plain status, invalid body, network", async () => {
    const api = new HubApi(base);
    handler = (_req, _body, res) => json(res, 409, { message: "conflict!", details: [{ a: 1 }] });
    expect(await failure(api.register({ client_name: "carol" }))).toMatchObject({
      status: 409,
      message: "conflict!",
      details: [{ a: 1 }],
      code: "http",
    });
    // A reference hub (FastAPI): `{detail}`, a text (the message) or a list of validation issues (the details).
    handler = (_req, _body, res) => json(res, 400, { detail: "Client carol is not registered." });
    expect(await failure(api.register({ client_name: "carol" }))).toMatchObject({
      status: 400,
      message: "Client carol is not registered.",
      code: "http",
    });
    handler = (_req, _body, res) => json(res, 422, { detail: [{ loc: ["query", "size"], msg: "field required" }] });
    expect(await failure(api.register({ client_name: "carol" }))).toMatchObject({
      status: 422,
      message: "hub answered HTTP 422",
      details: [{ loc: ["query", "size"], msg: "field required" }],
    });
    handler = (_req, _body, res) => res.writeHead(502).end("bad gateway");
    expect(await failure(api.status())).toMatchObject({ status: 502, message: "hub answered HTTP 502", code: "http" });
    handler = (_req, _body, res) => json(res, 200, { nope: 1 });
    expect(await failure(api.status())).toMatchObject({
      status: 0,
      message: "invalid response from hub for GET /mgmt/v1/status",
      code: "invalid_response",
    });
    api.close();
    const closed = await new Promise<number>((r) => {
      const s = http.createServer().listen(0, "127.0.0.1", () => {
        const port = (s.address() as AddressInfo).port;
        s.close(() => r(port));
      });
    });
    const gone = new HubApi(`http://127.0.0.1:${closed}/hub/hank`);
    expect(await failure(gone.status())).toMatchObject({ status: 0, message: "hub unreachable: ECONNREFUSED", code: "network" });
    gone.close();
  });

  test("timeout", async () => {
    let release = () => {};
    handler = (_req, _body, res) => {
      release = () => json(res, 200, {});
    };
    const api = new HubApi(base, { timeoutMs: 50 });
    expect(await failure(api.status())).toMatchObject({
      status: 0,
      message: "hub request timed out: timeout of 50ms exceeded",
      code: "timeout",
    });
    release();
    api.close();
  });

  test("signed calls without auth go out unsigned (the hub answers 401)", async () => {
    let signature: string | string[] | undefined = "unset";
    handler = (req, _body, res) => {
      signature = req.headers["dske-signature"];
      json(res, 401, { message: "unknown sender" });
    };
    const api = new HubApi(base, { bearerToken: "enroll" });
    expect(await failure(api.confirmPsrd({ client_name: "carol", block_uuids: ["b"] }))).toMatchObject({
      status: 401,
      message: "unknown sender",
      code: "http",
    });
    expect(signature).toBeUndefined();
    api.close();
  });
});

describe("request diagnostics: a per-instance count and the dske:hub-api:request channel", () => {
  test("every request is published on the channel and counted per instance", async () => {
    handler = (_req, _body, res) => json(res, 200, { held: [] });
    const messages: HubApiRequestMessage[] = [];
    const listener = (m: unknown) => messages.push(m as HubApiRequestMessage);
    diagnosticsChannel.subscribe(HUB_API_REQUEST_CHANNEL, listener);
    const a = new HubApi(base);
    const b = new HubApi(base);
    try {
      await a.sharesHeld(["k1"]);
      await b.sharesHeld(["k2"]);
      await b.sharesHeld(["k3"]);
    } finally {
      diagnosticsChannel.unsubscribe(HUB_API_REQUEST_CHANNEL, listener);
      a.close();
      b.close();
    }
    expect([a.requests, b.requests, messages.length]).toEqual([1, 2, 3]);
    expect(messages[0]).toEqual({ baseUrl: base, method: "POST", path: "/dske/api/v1/key-shares/held", signed: false });
  });
});
