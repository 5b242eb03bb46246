/**
 * TEST-ONLY fault injection for the standalone hub (system tests of a malicious hub and of PSRD
 * exhaustion against real processes). Only the test server (test-server.ts, built to
 * dist/test-server.js, never published) installs it; the `dske-hub` binary and the package entry
 * neither contain nor import this file. In the test server it is off unless the environment
 * variable `DSKE_TEST_FAULTS` names a JSON file; the file is re-read on every affected request, so
 * a test can switch faults on and off while the hub runs:
 *
 *   { "corrupt_shares": 1 }   XOR this byte value (1..255) into the first byte of every share the
 *                            hub hands out (GET key-share and batch fetch). The hub then signs the
 *                            lying answer legitimately: a malicious hub, not a network attacker.
 *   { "refuse_psrd": true }   answer 503 to every PSRD request (GET .../dske/oob/v1/psrd): the
 *                            hub's PSRD source has run dry.
 *   { "claim_share_index": 1 } answer with this share_index (1..255) instead of the stored one
 *                            (GET key-share and batch fetch): a malicious hub claiming another
 *                            hub's position, to push that hub's honest share out.
 *   { "reference_hub": true } answer like the reference implementation's hub (reference-hub.ts):
 *                            signed `null` to POST key-share, no extensions at registration, and
 *                            a client that registers again gets its pools reset.
 *
 * A missing or unreadable file, or anything else in it, means no fault. A hub with faults lies to
 * its clients (who detect it; that is what the tests check).
 */
import { readFileSync } from "node:fs";
import type { NextFunction, Request, Response } from "express";
import { z } from "zod";
import type { LogFields } from "@dske/protocol";
import type { Hub } from "../hub.js";
import { HubError } from "../errors.js";
import { referenceHubEmulation } from "./reference-hub.js";

export const TEST_FAULTS_ENV = "DSKE_TEST_FAULTS";

const FaultsSchema = z.object({
  corrupt_shares: z.int().min(0).max(255).optional(),
  refuse_psrd: z.boolean().optional(),
  claim_share_index: z.int().min(1).max(255).optional(),
  reference_hub: z.boolean().optional(),
});
export type TestFaults = z.infer<typeof FaultsSchema>;

/** The faults currently configured in `file` ({} when none). */
export function readTestFaults(file: string): TestFaults {
  try {
    const parsed = FaultsSchema.safeParse(JSON.parse(readFileSync(file, "utf8")));
    return parsed.success ? parsed.data : {};
  } catch {
    return {};
  }
}

/**
 * Make `hub` lie: XOR `delta()` into the first byte of every share it hands out (GET key-share and
 * batch fetch; the pad is a one-time pad, so this XORs the decrypted share, and the hub signs the
 * answer legitimately). Returns a function that restores the hub. Also used by in-process tests.
 */
export function corruptShares(hub: Hub, delta: () => number): () => void {
  const flip = (b64: string): string => {
    const d = delta();
    if (d === 0) return b64;
    const b = Buffer.from(b64, "base64");
    if (b.length > 0) b[0] ^= d;
    return b.toString("base64");
  };
  const getShare = hub.getShare.bind(hub);
  const fetchShares = hub.fetchShares.bind(hub);
  hub.getShare = async (q) => {
    const r = await getShare(q);
    return { ...r, encrypted_share_value: flip(r.encrypted_share_value) };
  };
  hub.fetchShares = async (c, keys, acks) => {
    const r = await fetchShares(c, keys, acks);
    return { ...r, shares: r.shares.map((s) => ({ ...s, encrypted_share_value: flip(s.encrypted_share_value) })) };
  };
  return () => {
    hub.getShare = getShare;
    hub.fetchShares = fetchShares;
  };
}

/**
 * Make `hub` claim another share index: every share it hands out (GET key-share and batch fetch)
 * carries `index()` as its share_index instead of the stored one (undefined: the stored one). The
 * value is the hub's own share, signed legitimately. Returns a function that restores the hub.
 */
export function claimShareIndex(hub: Hub, index: () => number | undefined): () => void {
  const getShare = hub.getShare.bind(hub);
  const fetchShares = hub.fetchShares.bind(hub);
  hub.getShare = async (q) => {
    const r = await getShare(q);
    return { ...r, share_index: index() ?? r.share_index };
  };
  hub.fetchShares = async (c, keys, acks) => {
    const r = await fetchShares(c, keys, acks);
    const claimed = index();
    return claimed === undefined ? r : { ...r, shares: r.shares.map((s) => ({ ...s, share_index: claimed })) };
  };
  return () => {
    hub.getShare = getShare;
    hub.fetchShares = fetchShares;
  };
}

/**
 * If `DSKE_TEST_FAULTS` is set: wrap the hub's share release to corrupt shares on demand, and
 * return a middleware (mount it before the hub router) that refuses PSRD and emulates the
 * reference hub on demand. Otherwise returns undefined and changes nothing.
 */
export function installTestFaults(
  hub: Hub,
  log: (message: string, fields?: LogFields) => void,
  env: NodeJS.ProcessEnv = process.env,
): ((req: Request, res: Response, next: NextFunction) => void) | undefined {
  const file = env[TEST_FAULTS_ENV];
  if (file === undefined || file === "") return undefined;
  log("TEST FAULT INJECTION enabled; never use this in production", { env: TEST_FAULTS_ENV, file });
  corruptShares(hub, () => readTestFaults(file).corrupt_shares ?? 0);
  claimShareIndex(hub, () => readTestFaults(file).claim_share_index);
  // refuse_psrd also stops the hub's local distributor: no bundle is issued while it is set.
  const issue = hub.issueBundle.bind(hub);
  hub.issueBundle = (...args: Parameters<Hub["issueBundle"]>) =>
    readTestFaults(file).refuse_psrd === true
      ? Promise.reject(new HubError("unavailable", `hub ${hub.name}: PSRD source exhausted (test fault injection)`))
      : issue(...args);
  const reference = referenceHubEmulation(hub, () => readTestFaults(file).reference_hub === true, log);
  return (req, res, next) => {
    if (req.method === "GET" && req.path.endsWith("/dske/oob/v1/psrd") && readTestFaults(file).refuse_psrd === true) {
      res.status(503).json({ message: `hub ${hub.name}: PSRD source exhausted (test fault injection)` });
      return;
    }
    reference(req, res, next);
  };
}
