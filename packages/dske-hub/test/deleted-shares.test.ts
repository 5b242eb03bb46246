/**
 * A deleted share (acknowledged, or timed out) becomes unrecoverable from the hub's disk within
 * compactIntervalMs (plus the compaction itself): the state journal is compacted, and the old
 * journal file is zeroed in place before it is unlinked. Here the interval is 50 ms; the test
 * waits on the file's bytes, not on time.
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from "node:fs";
import path from "node:path";
import { MemoryStore } from "@dske/psrd";
import { Hub } from "../src/hub";
import { STATE_FILE } from "../src/hub-state";
import { bytes, encryptBatch, encryptShare, provisionMirror, type ClientMirror, useTempDir } from "./helpers";

const KEY = "8f7a2c1e-0000-4000-8000-0000000000d1";
const KEY2 = "8f7a2c1e-0000-4000-8000-0000000000d2";

/** Provision a client from its first bundle (64 KiB per pool) and register it with the ack extension. */
async function onboard(hub: Hub, name: string, encryptors: string[]): Promise<ClientMirror> {
  const mirror = await provisionMirror(hub, name, { encryptors, bytes: 65536, ack: true });
  expect(hub.client(name)?.ack).toBe(true);
  return mirror;
}

async function post(hub: Hub, carol: ClientMirror, value: Uint8Array, keyId: string): Promise<void> {
  const enc = await encryptShare(carol, value);
  await hub.postShare({
    master_client_name: "carol",
    master_sae_id: "sam",
    slave_sae_id: "sunny",
    user_key_id: keyId,
    share_index: 1,
    ...enc,
  });
}

async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Whether the file's raw bytes contain the share value (as stored: base64; or raw). */
function onDisk(file: string, value: Uint8Array): boolean {
  const raw = readFileSync(file);
  return raw.includes(Buffer.from(value).toString("base64")) || raw.includes(Buffer.from(value));
}

/** Whether every byte of the (possibly unlinked) file behind `fd` is zero. */
function zeroed(fd: number): boolean {
  const size = fstatSync(fd).size;
  const buf = Buffer.alloc(size);
  readSync(fd, buf, 0, size, 0);
  return size > 0 && buf.equals(Buffer.alloc(size));
}

describe("deleted shares on the hub's disk", () => {
  const tmp = useTempDir("dske-hub-deleted-");
  let hub: Hub;
  let now: number;
  let carol: ClientMirror;
  let file: string;

  beforeEach(async () => {
    now = 5_000_000;
    hub = await Hub.open({
      name: "hank",
      store: new MemoryStore(),
      stateDir: tmp.path,
      sweepIntervalMs: 0,
      shareTimeoutSecs: 60,
      now: () => now,
      compactIntervalMs: 50,
    });
    carol = await onboard(hub, "carol", ["sam"]);
    await onboard(hub, "curtis", ["sunny"]);
    file = path.join(tmp.path, STATE_FILE);
  });
  afterEach(() => hub.close());

  test.each(["acknowledged", "timed out"] as const)(
    "%s: gone from the state file within the interval; the old file was zeroed",
    async (how) => {
      const gone = bytes(48, 61);
      const kept = bytes(48, 62);
      await post(hub, carol, gone, KEY);
      now += 30_000;
      await post(hub, carol, kept, KEY2);
      expect(onDisk(file, gone)).toBe(true); // the search finds a stored value
      expect(onDisk(file, kept)).toBe(true);
      const old = openSync(file, "r"); // the journal file as it is now: it must be zeroed, not only unlinked
      const compactions = hub.compactions.count;
      try {
        if (how === "acknowledged") {
          await hub.getShare({ client_name: "curtis", master_sae_id: "sam", slave_sae_id: "sunny", key_id: KEY });
          expect((await hub.fetchShares("curtis", [], [{ master_sae_id: "sam", key_id: KEY }])).acknowledged).toBe(1);
        } else {
          now += 31_000; // KEY is 61 s old (timeout 60 s), KEY2 31 s
          expect(hub.sweep()).toBe(1);
        }
        expect(hub.shareCount).toBe(1);
        await waitFor(() => !onDisk(file, gone), "the deleted share to leave the state file");
        // A compaction is done once the old file is zeroed and unlinked (zeroing first, then the unlink:
        // waiting on the zeroes alone would race the unlink).
        await waitFor(() => hub.compactions.count > compactions, "the compaction to finish");
        expect(zeroed(old)).toBe(true);
        expect(fstatSync(old).nlink).toBe(0);
      } finally {
        closeSync(old);
      }
      expect(onDisk(file, kept)).toBe(true); // the live share is still durable
      expect(existsSync(`${file}.old`)).toBe(false);
      expect(existsSync(`${file}.tmp`)).toBe(false);
    },
  );

  test("a burst of deletions costs one compaction, not one each", async () => {
    const values = Array.from({ length: 200 }, (_, i) => bytes(48, 100 + i));
    const ids = values.map((_, i) => `8f7a2c1e-0000-4000-8000-${String(i).padStart(12, "0")}`);
    const { encryption_key_allocation, ciphertexts } = await encryptBatch(carol, values);
    await hub.postShares(
      "carol",
      encryption_key_allocation,
      ids.map((id, i) => ({
        master_sae_id: "sam",
        slave_sae_id: "sunny",
        user_key_id: id,
        share_index: 1,
        encrypted_share_value: ciphertexts[i],
      })),
    );
    const before = hub.compactions.count;
    await hub.fetchShares(
      "curtis",
      ids.map((key_id) => ({ master_sae_id: "sam", slave_sae_id: "sunny", key_id })),
    );
    await hub.fetchShares(
      "curtis",
      [],
      ids.map((key_id) => ({ master_sae_id: "sam", key_id })),
    );
    expect(hub.shareCount).toBe(0);
    await waitFor(() => values.every((v) => !onDisk(file, v)), "the deleted shares to leave the state file");
    await waitFor(() => hub.compactions.count > before, "the compaction to finish");
    expect(hub.compactions.count - before).toBe(1);
  });
});
