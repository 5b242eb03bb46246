/** Store factories so that behaviour tests run against every PsrdStore implementation. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileStore, MemoryStore, type PsrdStore } from "../src/index.js";

export interface StoreFixture {
  store: PsrdStore;
  dir: string;
  auditLog: string;
  reopen(): Promise<PsrdStore>;
  cleanup(): Promise<void>;
}

export type StoreKind = "MemoryStore" | "FileStore";
export const STORE_KINDS: StoreKind[] = ["MemoryStore", "FileStore"];

export async function makeStore(kind: StoreKind, options: { compactAfterRecords?: number } = {}): Promise<StoreFixture> {
  const dir = mkdtempSync(join(tmpdir(), "psrd-test-"));
  const auditLog = join(dir, "audit.jsonl");
  const open = async (): Promise<PsrdStore> =>
    kind === "MemoryStore" ? new MemoryStore({ auditLog }) : FileStore.open(join(dir, "store"), { auditLog, ...options });
  const fixture: StoreFixture = {
    store: await open(),
    dir,
    auditLog,
    async reopen() {
      await fixture.store.close();
      fixture.store = await open();
      return fixture.store;
    },
    async cleanup() {
      await fixture.store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return fixture;
}
