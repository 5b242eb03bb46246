/** The test-only fault injection of the standalone hub: off by default; when on, driven by its JSON file. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { NextFunction, Request, Response } from "express";
import { MemoryStore } from "@dske/psrd";
import { Hub } from "../../src/hub";
import { defined } from "../helpers";
import { installTestFaults, readTestFaults, TEST_FAULTS_ENV } from "../../src/testing/faults";

let hub: Hub;
beforeEach(async () => {
  hub = await Hub.open({ name: "hank", store: new MemoryStore(), shareTimeoutSecs: 60, sweepIntervalMs: 0 });
});
afterEach(() => hub.close());

function psrdRequest(mw: (req: Request, res: Response, next: NextFunction) => void): { status?: number; body?: unknown; next: boolean } {
  const out: { status?: number; body?: unknown; next: boolean } = { next: false };
  const res = {
    status(s: number) {
      out.status = s;
      return this;
    },
    json(b: unknown) {
      out.body = b;
      return this;
    },
  } as unknown as Response;
  mw({ method: "GET", path: "/hub/hank/dske/oob/v1/psrd" } as unknown as Request, res, () => {
    out.next = true;
  });
  return out;
}

/** The function behind `hub.getShare` now (compared by identity only, never called). */
const getShareFn = (): unknown => Reflect.get(hub, "getShare");

it("off unless DSKE_TEST_FAULTS is set: nothing installed, hub methods untouched", () => {
  const get = getShareFn();
  const lines: string[] = [];
  expect(installTestFaults(hub, (l) => lines.push(l), {})).toBeUndefined();
  expect(installTestFaults(hub, (l) => lines.push(l), { [TEST_FAULTS_ENV]: "" })).toBeUndefined();
  expect(getShareFn()).toBe(get);
  expect(lines).toEqual([]);
});

it("on: warns, and follows the file (refuse_psrd; unreadable or invalid file = no fault)", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "dske-faults-"));
  const file = path.join(dir, "f.json");
  const lines: string[] = [];
  const mw = defined(installTestFaults(hub, (l) => lines.push(l), { [TEST_FAULTS_ENV]: file }));
  expect(lines.join("\n")).toMatch(/TEST FAULT INJECTION enabled/); // the message; the file is a field
  expect(psrdRequest(mw).next).toBe(true); // no file yet
  writeFileSync(file, JSON.stringify({ refuse_psrd: true }));
  const refused = psrdRequest(mw);
  expect(refused.status).toBe(503);
  expect((refused.body as { message: string }).message).toMatch(/PSRD source exhausted/);
  writeFileSync(file, "{not json");
  expect(psrdRequest(mw).next).toBe(true);
  expect(readTestFaults(file)).toEqual({});
  writeFileSync(file, JSON.stringify({ corrupt_shares: 300 }));
  expect(readTestFaults(file)).toEqual({});
  writeFileSync(file, JSON.stringify({ corrupt_shares: 7 }));
  expect(readTestFaults(file)).toEqual({ corrupt_shares: 7 });
  writeFileSync(file, JSON.stringify({ claim_share_index: 0 }));
  expect(readTestFaults(file)).toEqual({});
  writeFileSync(file, JSON.stringify({ claim_share_index: 3 }));
  expect(readTestFaults(file)).toEqual({ claim_share_index: 3 });
  writeFileSync(file, JSON.stringify({ reference_hub: "yes" }));
  expect(readTestFaults(file)).toEqual({});
  writeFileSync(file, JSON.stringify({ reference_hub: true }));
  expect(readTestFaults(file)).toEqual({ reference_hub: true });
});
