/**
 * When a failed signed call makes the client register again (signed-calls.ts): on a 401 and when
 * there is no usable answer, never when the hub's response signature verified and only its body
 * was unexpected (a reference hub resets a re-registering client's pools: issue 14).
 */
import { HubApiError } from "@dske/protocol";
import { HubLink } from "../src/hub-link";
import type { Replenishment } from "../src/replenishment";
import { SignedCalls } from "../src/signed-calls";
import { NodeState } from "../src/node-state";

async function outcome(err: unknown): Promise<{ reregistered: string[]; status: number }> {
  const state = await NodeState.open(undefined);
  const link = new HubLink("http://127.0.0.1:9/hub/hank", state, 1000, () => undefined);
  const psrd = {
    ensure: () => Promise.resolve(),
    peerInFlight: 0,
    maybeReplenishBoth: () => {},
    topUpPeer: () => {},
  } as unknown as Replenishment;
  const reregistered: string[] = [];
  const calls = new SignedCalls({ link, psrd, blockSize: 1000, reregister: (r) => reregistered.push(r) });
  const failure = await calls
    .call(0, () => {
      throw err;
    })
    .catch((e: unknown) => e);
  link.api.close();
  return { reregistered, status: (failure as { status: number }).status };
}

test.each([
  ["401 (the hub no longer knows us)", true, new HubApiError(401, "Unknown sender", undefined, "http")],
  ["no answer (network)", true, new HubApiError(0, "hub unreachable: ECONNREFUSED", undefined, "network")],
  ["a bad response signature", true, new HubApiError(0, "response signature: bad tag", undefined, "signature")],
  ["an unverified invalid body", true, new HubApiError(0, "invalid response", [], "invalid_response")],
  ["a VERIFIED but unexpected body", false, new HubApiError(0, "invalid response", [], "invalid_response", true)],
  ["400 (a refused request)", false, new HubApiError(400, "Invalid PSRD block UUID", undefined, "http")],
])("%s → register again: %s", async (_what, expected, err) => {
  const r = await outcome(err);
  expect(r.reregistered.length > 0).toBe(expected);
  expect(r.status).toBe(err.status);
  expect(HubLink.suggestsReregistration(err, err.status)).toBe(expected);
});

test.each([
  [true, "Client carol is not registered.", true],
  [true, "Unknown key ID: 0f3c9a50-1111-4222-8333-444455556666", false],
  [false, "Client carol is not registered.", false],
])("reference hub %s, unsigned 400 %j → register again: %s", async (reference, message, expected) => {
  const state = await NodeState.open(undefined);
  const link = new HubLink("http://127.0.0.1:9/hub/hank", state, 1000, () => undefined, undefined, reference);
  const err = new HubApiError(400, message, undefined, "http");
  // A reference hub that lost its state (restarted) refuses us so; our hubs answer 401 instead.
  expect(link.shouldReregister(err, 400)).toBe(expected);
  link.api.close();
});
