/**
 * Attacks on the hub's signed in-band routes with real signed traffic (in process, loopback), for
 * both MAC schemes: replay of a captured POST / GET key-share, tampering with the body, the query
 * string or the DSKE-Signature header. Each must be refused with 401, store nothing, and consume no
 * PSRD; a tampered copy must not burn the genuine request's allocation either.
 *
 * Response substitution between two concurrent requests (gf128) is covered by @dske/auth's
 * e2e.test.ts ("response substitution between two concurrent requests") and not repeated here.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import axios, { type AxiosInstance, type AxiosResponse, type InternalAxiosRequestConfig } from "axios";
import express from "express";
import { FileStore, MemoryStore } from "@dske/psrd";
import { installSignatureInterceptors, type AuthSchemeName } from "@dske/auth";
import { Hub } from "../../src/hub";
import { ErrorBodySchema, HubApi } from "@dske/protocol";
import { createHubRouter } from "../../src/http/router";
import { bytes, decryptShare, defined, encryptShare, provisionMirror, type ClientMirror } from "../helpers";
import { rawHttp, send, expectWellFormed, type RawResponse } from "./fuzz-util";

/** A signed request exactly as it would go on the wire. */
interface Captured {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: Buffer;
}

interface Party {
  mirror: ClientMirror;
  api: HubApi;
  /** Signs and returns the request without sending it. */
  build(method: "GET" | "POST", url: string, data?: unknown): Promise<Captured>;
}

const http = rawHttp();

/** A client provisioned from its first bundle (in process, as the local distributor does) and registered. */
async function makeParty(hub: Hub, base: string, scheme: AuthSchemeName, name: string, encryptors: string[]): Promise<Party> {
  const mirror = await provisionMirror(hub, name, { encryptors, scheme, bytes: 8192 });
  expect(hub.client(name)?.authScheme).toBe(scheme);
  const api = new HubApi(base, { auth: { resolvePeer: () => mirror.peerAuth } });
  const builder: AxiosInstance = axios.create();
  // Filled by the interceptor below (the last entry is the latest request), emptied by build().
  const captured: Captured[] = [];
  // Registered before the signature interceptors, so it runs AFTER them (axios runs request
  // interceptors last-registered first): it sees the final signed bytes.
  builder.interceptors.request.use((config: InternalAxiosRequestConfig) => {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(config.headers.toJSON())) if (typeof v === "string") headers[k] = v;
    captured.push({
      method: (config.method ?? "get").toUpperCase(),
      url: String(config.url),
      headers,
      body: config.data as Buffer | undefined,
    });
    return config;
  });
  installSignatureInterceptors(builder, { resolvePeer: () => mirror.peerAuth });
  builder.defaults.adapter = () => Promise.reject(new Error("captured, not sent"));
  return {
    mirror,
    api,
    async build(method, url, data) {
      captured.length = 0;
      await builder.request({ method, url, data }).catch(() => undefined);
      const last = captured.pop();
      if (!last) throw new Error("nothing captured");
      return last;
    },
  };
}

describe.each<AuthSchemeName>(["gf128", "hmac-sha256"])("signed in-band attacks (%s)", (scheme) => {
  let hub: Hub;
  let server: Server;
  let base: string;
  let carol: Party;
  let curtis: Party;
  const unexpected: unknown[] = [];

  beforeEach(async () => {
    // hmac-sha256 listed explicitly (reference peers): the default hub accepts gf128 only.
    hub = await Hub.open({ name: "hank", store: new MemoryStore(), sweepIntervalMs: 0, authSchemes: [scheme] });
    const app = express();
    app.use(createHubRouter({ hub, onError: (e) => unexpected.push(e) }));
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, "127.0.0.1", () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hub/hank`;
    carol = await makeParty(hub, base, scheme, "carol", ["sam", "sue"]);
    curtis = await makeParty(hub, base, scheme, "curtis", ["sunny"]);
  });

  afterEach(async () => {
    carol.api.close();
    curtis.api.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await hub.close();
    expect(unexpected).toEqual([]);
  });

  /** Every pool on both sides plus the hub's share table. */
  function state(): string {
    const st = hub.status();
    const mirrors = [carol, curtis].map((p) => [p.mirror.local.stats(), p.mirror.peer.stats()]);
    return JSON.stringify({ pools: st.peer_clients.map((c) => c.pools), shares: st.shares, mirrors });
  }

  const sendRaw = (c: Captured): Promise<RawResponse> => send(http, c.method, c.url, { body: c.body, headers: c.headers });

  async function expectRejected(c: Captured, what: string): Promise<RawResponse> {
    const before = state();
    const r = await sendRaw(c);
    expectWellFormed(r, what);
    expect({ what, status: r.status }).toEqual({ what, status: 401 });
    expect(state()).toBe(before);
    return r;
  }

  async function shareBody(keyId: string, extra: Record<string, unknown> = {}) {
    const value = bytes(48, 3);
    const enc = await encryptShare(carol.mirror, value);
    return {
      value,
      body: {
        master_client_name: "carol",
        master_sae_id: "sam",
        slave_sae_id: "sunny",
        user_key_id: keyId,
        share_index: 2,
        ...enc,
        ...extra,
      },
    };
  }

  test("replay of a captured POST key-share: 401, stored once, no PSRD consumed", async () => {
    const key = randomUUID();
    const { body } = await shareBody(key);
    const genuine = await carol.build("POST", `${base}/dske/api/v1/key-share`, body);
    const first = await sendRaw(genuine);
    expect(first.status).toBe(200);
    expect(hub.status().shares.filter((s) => s.key_id === key)).toHaveLength(1);
    const r = await expectRejected(genuine, "replayed POST");
    expect(ErrorBodySchema.parse(JSON.parse(r.text)).message).toMatch(/signature|PSRD|allocation|used/i);
    expect(hub.status().shares.filter((s) => s.key_id === key)).toHaveLength(1);
    // A replay after the share was fetched and deleted is still refused (the bytes are used, forever).
    expect(
      (await curtis.api.getKeyShare({ client_name: "curtis", master_sae_id: "sam", slave_sae_id: "sunny", key_id: key })).share_index,
    ).toBe(2);
    expect(hub.status().shares.filter((s) => s.key_id === key)).toHaveLength(0);
    await expectRejected(genuine, "replayed POST after deletion");
    expect(hub.status().shares.filter((s) => s.key_id === key)).toHaveLength(0);
  });

  test("replay of a captured GET key-share: 401, no second release, no PSRD consumed", async () => {
    const key = randomUUID();
    // Multicast to sunny (curtis) and sue (carol): the share stays after curtis' fetch.
    const { body, value } = await shareBody(key, { additional_slave_sae_ids: ["sue"] });
    await carol.api.postKeyShare(body);
    const genuine = await curtis.build(
      "GET",
      `${base}/dske/api/v1/key-share?client_name=curtis&master_sae_id=sam&slave_sae_id=sunny&key_id=${key}`,
    );
    const first = await sendRaw(genuine);
    expect(first.status).toBe(200);
    const got = JSON.parse(first.text) as {
      encryption_key_allocation: { fragments: { block_uuid: string; start: number; size: number }[] };
      encrypted_share_value: string;
    };
    expect(Buffer.from(await decryptShare(curtis.mirror, got.encryption_key_allocation, got.encrypted_share_value))).toEqual(
      Buffer.from(value),
    );
    const share = () => hub.status().shares.find((s) => s.key_id === key);
    expect(share()?.fetched_by).toEqual(["curtis"]);
    await expectRejected(genuine, "replayed GET");
    expect(share()?.fetched_by).toEqual(["curtis"]);
  });

  test("ack extension: a replayed captured fetch or ack is 401 and changes nothing; a NEW signed fetch re-releases with fresh PSRD", async () => {
    const reg = await curtis.api.registerSigned({
      client_name: "curtis",
      encryptor_names: ["sunny"],
      auth_scheme: scheme,
      extensions: ["ack"],
    });
    expect(reg.extensions).toContain("ack");
    const key = randomUUID();
    const { body, value } = await shareBody(key);
    await carol.api.postKeyShare(body);
    const fetchUrl = `${base}/dske/api/v1/key-shares/fetch`;
    const keys = [{ master_sae_id: "sam", slave_sae_id: "sunny", key_id: key }];
    const genuine = await curtis.build("POST", fetchUrl, { client_name: "curtis", keys });
    const first = await sendRaw(genuine);
    expect(first.status).toBe(200);
    const share = () => hub.status().shares.find((s) => s.key_id === key);
    expect(share()?.pending_ack).toEqual(["curtis"]);
    await expectRejected(genuine, "replayed fetch");
    // A new signed request (the restarted client) gets the share again under a fresh allocation.
    const again = await curtis.api.getKeyShares({ client_name: "curtis", keys });
    const firstBody = JSON.parse(first.text) as { encryption_key_allocation: unknown };
    expect(again.encryption_key_allocation).not.toEqual(firstBody.encryption_key_allocation);
    expect(
      Buffer.from(await decryptShare(curtis.mirror, defined(again.encryption_key_allocation), again.shares[0].encrypted_share_value)),
    ).toEqual(Buffer.from(value));
    const ack = await curtis.build("POST", fetchUrl, { client_name: "curtis", keys: [], ack: [{ master_sae_id: "sam", key_id: key }] });
    const acked = await sendRaw(ack);
    expect(acked.status).toBe(200);
    expect(JSON.parse(acked.text)).toEqual({ shares: [], missing: [], acknowledged: 1 });
    expect(share()).toBeUndefined();
    await expectRejected(ack, "replayed ack");
    await expectRejected(genuine, "replayed fetch after the ack");
  });

  test("tampered body, query or DSKE-Signature: 401, nothing stored or consumed; the genuine request still works once", async () => {
    const key = randomUUID();
    const { body } = await shareBody(key);
    const genuine = await carol.build("POST", `${base}/dske/api/v1/key-share`, body);
    const text = defined(genuine.body).toString("utf8");
    const sig = genuine.headers["DSKE-Signature"];
    const [alloc, tag] = [sig.slice(0, sig.indexOf("%")), sig.slice(sig.indexOf("%") + 1)];
    const tagBytes = Buffer.from(tag, "base64");
    const flipped = Buffer.from(tagBytes);
    flipped[0] ^= 1;
    const [blk, start, size] = alloc.split(":");
    const variants: [string, Captured][] = [
      ["body: slave SAE changed", { ...genuine, body: Buffer.from(text.replace('"slave_sae_id":"sunny"', '"slave_sae_id":"sue"')) }],
      [
        "body: one share byte changed",
        {
          ...genuine,
          body: Buffer.from(
            text.replace(/"encrypted_share_value":"(.)/, (_m, c: string) => `"encrypted_share_value":"${c === "A" ? "B" : "A"}`),
          ),
        },
      ],
      ["body: whitespace added", { ...genuine, body: Buffer.from(text + " ") }],
      ["query: added", { ...genuine, url: `${genuine.url}?client_name=carol` }],
      [
        "header: tag bit flipped",
        { ...genuine, headers: { ...genuine.headers, "DSKE-Signature": `${alloc}%${flipped.toString("base64")}` } },
      ],
      [
        "header: allocation moved",
        { ...genuine, headers: { ...genuine.headers, "DSKE-Signature": `${blk}:${Number(start) + 16}:${size}%${tag}` } },
      ],
      ["header: other block", { ...genuine, headers: { ...genuine.headers, "DSKE-Signature": `${randomUUID()}:${start}:${size}%${tag}` } }],
      [
        "header: removed",
        { ...genuine, headers: Object.fromEntries(Object.entries(genuine.headers).filter(([k]) => k !== "DSKE-Signature")) },
      ],
    ];
    for (const [what, c] of variants) await expectRejected(c, what);
    expect(hub.status().shares.filter((s) => s.key_id === key)).toHaveLength(0);
    // The tampered copies did not burn the genuine request's PSRD.
    expect((await sendRaw(genuine)).status).toBe(200);
    expect(hub.status().shares.filter((s) => s.key_id === key)).toHaveLength(1);
    await expectRejected(genuine, "replay after the genuine request");

    // GET: tampering with the query string (which share, for which slave) is refused too.
    const get = await curtis.build(
      "GET",
      `${base}/dske/api/v1/key-share?client_name=curtis&master_sae_id=sam&slave_sae_id=sunny&key_id=${key}`,
    );
    for (const [what, url] of [
      ["query: key_id changed", get.url.replace(key, randomUUID())],
      ["query: parameter duplicated", `${get.url}&key_id=${key}`],
      ["query: parameters reordered", get.url.replace(/\?(.*)$/, (_m, q: string) => `?${q.split("&").reverse().join("&")}`)],
      ["query: slave changed", get.url.replace("slave_sae_id=sunny", "slave_sae_id=sue")],
    ] as const) {
      await expectRejected({ ...get, url }, what);
    }
    expect(hub.status().shares.find((s) => s.key_id === key)?.fetched_by).toEqual([]);
    expect((await sendRaw(get)).status).toBe(200);
    await expectRejected(get, "replayed GET");
  });

  /** Two concurrent signed GETs through a man in the middle that may swap the two answers. */
  async function concurrentGets(keys: [string, string], swap: boolean): Promise<PromiseSettledResult<unknown>[]> {
    const inst = axios.create();
    const raw: (RawResponse | undefined)[] = [undefined, undefined];
    let arrived!: () => void;
    const both = new Promise<void>((r) => (arrived = r));
    inst.defaults.adapter = async (config: InternalAxiosRequestConfig): Promise<AxiosResponse> => {
      const i = String(config.url).includes(keys[0]) ? 0 : 1;
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(config.headers.toJSON())) if (typeof v === "string") headers[k] = v;
      raw[i] = await send(http, "GET", String(config.url), { headers });
      if (raw[0] && raw[1]) arrived();
      await both;
      const r = defined(raw[swap ? 1 - i : i]);
      return {
        data: Buffer.from(r.text, "utf8"),
        status: r.status,
        statusText: "",
        headers: r.headers as AxiosResponse["headers"],
        config,
        request: {},
      };
    };
    installSignatureInterceptors(inst, { resolvePeer: () => curtis.mirror.peerAuth });
    const url = (k: string) => `${base}/dske/api/v1/key-share?client_name=curtis&master_sae_id=sam&slave_sae_id=sunny&key_id=${k}`;
    return Promise.allSettled(keys.map((k) => inst.get(url(k))));
  }

  test("response substitution between two concurrent GETs (man in the middle swaps the answers)", async () => {
    const keys = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    for (const k of keys) await carol.api.postKeyShare((await shareBody(k)).body);
    // Control: the same harness without the swap verifies both answers.
    const plain = await concurrentGets([keys[0], keys[1]], false);
    expect(plain.map((r) => r.status)).toEqual(["fulfilled", "fulfilled"]);
    const swapped = await concurrentGets([keys[2], keys[3]], true);
    if (scheme === "gf128") {
      // The response tag covers the request tag: a swapped answer never verifies.
      for (const r of swapped) {
        expect(r.status).toBe("rejected");
        expect(String((r as PromiseRejectedResult).reason)).toMatch(/signature|tag/i);
      }
    } else {
      // v1 hmac-sha256 (reference compatible) signs only the response body: the swap is NOT detected.
      // This is the known limitation that gf128 fixes; documented here, not hidden.
      expect(swapped.map((r) => r.status)).toEqual(["fulfilled", "fulfilled"]);
    }
  });

  test("a request signed with one client's PSRD cannot be passed off as another client's", async () => {
    const key = randomUUID();
    const get = await curtis.build(
      "GET",
      `${base}/dske/api/v1/key-share?client_name=curtis&master_sae_id=sam&slave_sae_id=sunny&key_id=${key}`,
    );
    await expectRejected({ ...get, url: get.url.replace("client_name=curtis", "client_name=carol") }, "other client name");
    const { body } = await shareBody(key);
    const post = await carol.build("POST", `${base}/dske/api/v1/key-share`, body);
    await expectRejected(
      {
        ...post,
        body: Buffer.from(defined(post.body).toString("utf8").replace('"master_client_name":"carol"', '"master_client_name":"curtis"')),
      },
      "other master",
    );
  });
});

describe("replay across a hub restart (FileStore + state dir): PSRD is used once ever", () => {
  test("a POST captured before the restart is refused after it; the share is stored once; new traffic works", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dske-replay-"));
    const open = async (port: number) => {
      const store = await FileStore.open(join(dir, "psrd"));
      const hub = await Hub.open({ name: "hank", store, stateDir: join(dir, "state"), sweepIntervalMs: 0 });
      const app = express();
      app.use(createHubRouter({ hub, onError: () => undefined }));
      const server = await new Promise<Server>((resolve) => {
        const s = app.listen(port, "127.0.0.1", () => resolve(s));
      });
      const close = async () => {
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
        await hub.close();
        await store.close();
      };
      return { hub, server, close, port: (server.address() as AddressInfo).port };
    };
    let node = await open(0);
    try {
      const base = `http://127.0.0.1:${node.port}/hub/hank`;
      const carol = await makeParty(node.hub, base, "gf128", "carol", ["sam"]);
      const curtis = await makeParty(node.hub, base, "gf128", "curtis", ["sunny"]);
      const key = randomUUID();
      const enc = await encryptShare(carol.mirror, bytes(48, 9));
      const body = { master_client_name: "carol", master_sae_id: "sam", slave_sae_id: "sunny", user_key_id: key, share_index: 1, ...enc };
      const genuine = await carol.build("POST", `${base}/dske/api/v1/key-share`, body);
      expect((await send(http, genuine.method, genuine.url, { body: genuine.body, headers: genuine.headers })).status).toBe(200);

      await node.close();
      node = await open(node.port);
      const state = () => JSON.stringify({ pools: node.hub.status().peer_clients.map((c) => c.pools), shares: node.hub.status().shares });
      const before = state();
      expect(node.hub.status().shares.filter((s) => s.key_id === key)).toHaveLength(1);
      const r = await send(http, genuine.method, genuine.url, { body: genuine.body, headers: genuine.headers });
      expectWellFormed(r, "replay after restart");
      expect(r.status).toBe(401);
      expect(state()).toBe(before);
      // Legitimate traffic continues after the restart.
      const got = await curtis.api.getKeyShare({ client_name: "curtis", master_sae_id: "sam", slave_sae_id: "sunny", key_id: key });
      expect(got.share_index).toBe(1);
      carol.api.close();
      curtis.api.close();
    } finally {
      await node.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
