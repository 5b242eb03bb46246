import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { KeyStore } from "../src/key-store";
import { NodeState } from "../src/node-state";

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "dske-client-keystore-"));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe("KeyStore", () => {
  test("issued keys and delivered marks survive a restart; no key values on disk", async () => {
    const file = path.join(dir, "keys.jsonl");
    const a = await KeyStore.open({ file });
    await a.recordIssued([{ keyId: "k1", masterSae: "sam", slaveSaes: ["sunny", "sue"], size: 256 }]);
    await a.markDelivered([{ masterSae: "sam", keyId: "k1", sae: "sue" }]);
    await a.markDelivered([{ masterSae: "sam", keyId: "k2", sae: "sunny" }]);
    await a.close();

    const b = await KeyStore.open({ file });
    expect(b.issued("k1")).toMatchObject({ masterSae: "sam", slaveSaes: ["sunny", "sue"], size: 256, deliveredTo: ["sue"] });
    expect(b.isDelivered("sam", "k1", "sue")).toBe(true);
    expect(b.isDelivered("sam", "k1", "sunny")).toBe(false);
    expect(b.isDelivered("sam", "k2", "sunny")).toBe(true);
    expect(b.isDelivered("sue", "k2", "sunny")).toBe(false);
    expect(b.counts()).toEqual({ issued: 1, delivered: 2 });
    await b.close();
    const text = await fs.readFile(file, "utf8");
    expect(text).not.toMatch(/"key"/);
  });

  test("a torn last line (crash during a write) is dropped, earlier records kept", async () => {
    const file = path.join(dir, "keys.jsonl");
    const a = await KeyStore.open({ file });
    await a.markDelivered([{ masterSae: "sam", keyId: "k1", sae: "sunny" }]);
    await a.close();
    await fs.appendFile(file, '{"t":"delivered","id":"k2","m":"sa');
    const b = await KeyStore.open({ file });
    expect(b.isDelivered("sam", "k1", "sunny")).toBe(true);
    expect(b.isDelivered("sam", "k2", "sunny")).toBe(false);
    await b.markDelivered([{ masterSae: "sam", keyId: "k3", sae: "sunny" }]);
    await b.close();
    const c = await KeyStore.open({ file });
    expect(c.isDelivered("sam", "k3", "sunny")).toBe(true);
    await c.close();
  });

  test("records past the retention are forgotten at open", async () => {
    const file = path.join(dir, "keys.jsonl");
    let now = 1_000_000;
    const a = await KeyStore.open({ file, now: () => now, retentionMs: 1000 });
    await a.markDelivered([{ masterSae: "sam", keyId: "old", sae: "sunny" }]);
    now += 5000;
    await a.markDelivered([{ masterSae: "sam", keyId: "new", sae: "sunny" }]);
    await a.close();
    const b = await KeyStore.open({ file, now: () => now, retentionMs: 1000 });
    expect(b.isDelivered("sam", "old", "sunny")).toBe(false);
    expect(b.isDelivered("sam", "new", "sunny")).toBe(true);
    await b.close();
  });

  test("concurrent appends are all durable", async () => {
    const file = path.join(dir, "keys.jsonl");
    const a = await KeyStore.open({ file });
    await Promise.all(Array.from({ length: 50 }, (_, i) => a.markDelivered([{ masterSae: "sam", keyId: `k${i}`, sae: "sunny" }])));
    await a.close();
    const b = await KeyStore.open({ file });
    expect(b.counts().delivered).toBe(50);
    await b.close();
  });
});

describe("NodeState", () => {
  test("hub records persist atomically", async () => {
    const file = path.join(dir, "client-state.json");
    const a = await NodeState.open(file);
    await a.setHub("http://h/hub/hank", { hub_name: "hank", auth_scheme: "gf128", extensions: ["batch"] });
    await a.setHub("http://h/hub/helen", { hub_name: "helen", auth_scheme: "hmac-sha256", extensions: [] });
    await a.setHub("http://h/hub/helen", undefined);
    const b = await NodeState.open(file);
    expect(b.hub("http://h/hub/hank")).toEqual({ hub_name: "hank", auth_scheme: "gf128", extensions: ["batch"] });
    expect(b.hub("http://h/hub/helen")).toBeUndefined();
  });

  test("a corrupt state file is reported, not ignored", async () => {
    const file = path.join(dir, "client-state.json");
    await fs.writeFile(file, JSON.stringify({ version: 1, hubs: { x: { hub_name: 3 } } }));
    await expect(NodeState.open(file)).rejects.toThrow(/invalid/);
  });
});
