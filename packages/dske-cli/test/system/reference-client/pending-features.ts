/**
 * The features the mixed-topology tests wait on (being added on other branches), and how the tests
 * detect them, so that they run as soon as the features are merged and stay skipped before:
 *
 * 1. dske-cli topologies accept `implementation: reference` on client and hub entries; `dske-cli
 *    start` / `stop` then leave those nodes alone, our hubs accept those clients' reference wire
 *    (unauthenticated registration and `GET psrd`, v1 key-share bodies), and our clients get
 *    `--reference-saes` (the reference clients' SAEs) and encode / decode SLIP-39 shares for them.
 *    Detected by parsing a topology that uses the attribute.
 * 2. The hub's test-only server (packages/dske-hub/src/testing/, built to dist/test-server.js)
 *    emulates a reference hub (signed `null` to POST key-share, pools reset on re-registration).
 *    Assumed switch: the environment variable REFERENCE_HUB_ENV = "1", with dske-hub's usual
 *    arguments. Detected by the switch's name appearing in the testing sources; if the merged mode
 *    is switched otherwise, change REFERENCE_HUB_ENV (and reference-hubs.ts) accordingly.
 *
 * `DSKE_REFERENCE_INTEROP=1` forces the tests on (to see them fail while a feature is missing).
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseConfig } from "../../../src/config";

export const REFERENCE_HUB_ENV = "DSKE_TEST_REFERENCE_HUB";

const forced = process.env.DSKE_REFERENCE_INTEROP === "1";

/** Feature 1: a topology may mark clients and hubs `implementation: reference`. */
export function referenceTopologiesSupported(): boolean {
  const probe = [
    "hubs:",
    "  - name: hank",
    "    implementation: reference",
    "clients:",
    "  - name: carol",
    "    implementation: reference",
    "    encryptors:",
    "      - name: sam",
    "min_nr_shares: 1",
  ].join("\n");
  try {
    parseConfig(probe, "probe.yaml");
    return true;
  } catch {
    return false;
  }
}

/** Feature 2: the hub's test server has the reference-hub mode under the assumed switch. */
export function referenceHubModeAvailable(): boolean {
  const dir = path.resolve(__dirname, "../../../../dske-hub/src/testing");
  try {
    return readdirSync(dir).some((f) => f.endsWith(".ts") && readFileSync(path.join(dir, f), "utf8").includes(REFERENCE_HUB_ENV));
  } catch {
    return false;
  }
}

/** `describe` when `ready` (or forced), else `describe.skip`. */
export function describeWhen(ready: boolean): jest.Describe {
  return ready || forced ? describe : describe.skip;
}
