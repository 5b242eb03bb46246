/**
 * `referenceHubs` / `--reference-hubs` (reference-hub.ts): refused without hmac-sha256 and for a
 * name that is no hub's (library and command line, each naming the option); the standalone
 * server's startup log flags each reference hub and registers without waiting for a bundle; a
 * bundle that claims to come from a reference hub is refused.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Hub } from "@dske/hub";
import { MemoryStore } from "@dske/psrd";
import { capturingLogger } from "@dske/protocol";
import { StubReferenceHub } from "../../dske-cli/test/system/reference-client/stub-reference-hub";
import { ClientUsageError, parseClientArgs, startClientServer } from "../src/bin/standalone";
import { Client, type ClientOptions } from "../src/client";
import { REFERENCE_HUB_NOTICE } from "../src/reference-hub";
import { waitFor } from "./harness";

const URLS = ["http://127.0.0.1:9/hub/hank", "http://127.0.0.1:9/hub/helen/"];
const base = (extra: Partial<ClientOptions>): ClientOptions => ({
  name: "carol",
  encryptors: ["sam"],
  hubs: URLS,
  psrdStore: new MemoryStore(),
  minNrShares: 1,
  ...extra,
});

async function refusal(p: Promise<unknown>): Promise<Error> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Error);
  return err as Error;
}

describe("the client option", () => {
  test("refused unless hmac-sha256 is allowed (the default gf128-only link)", async () => {
    const err = await refusal(Client.create(base({ referenceHubs: ["hank"] })));
    expect(err).toBeInstanceOf(RangeError);
    expect(err.message).toMatch(/^referenceHubs \(hank\): reference hubs sign with hmac-sha256 only, which this client does not allow/);
  });

  test("refused for a name that is no hub's; allowed with hmac-sha256 proposed or as a fallback", async () => {
    const err = await refusal(Client.create(base({ referenceHubs: ["hank", "hugo"], link: { requireAuthScheme: false } })));
    expect(err.message).toBe("referenceHubs: hugo is not among the hubs (hank, helen)");
    for (const link of [{ authScheme: "hmac-sha256" as const }, { requireAuthScheme: false }]) {
      const c = await Client.create(base({ referenceHubs: ["helen"], link }));
      expect(c.peerHubs.map((h) => [h.name, h.reference])).toEqual([
        ["hank", false],
        ["helen", true],
      ]);
      await c.stop();
    }
  });

  test("a bundle that claims to come from a reference hub is refused, nothing installed", async () => {
    const outbox = mkdtempSync(path.join(tmpdir(), "dske-refhub-outbox-"));
    const hank = await Hub.open({ name: "hank", store: new MemoryStore(), shareTimeoutSecs: 60, sweepIntervalMs: 0, outboxDir: outbox });
    const issued = await hank.issueBundle("carol", 4096, 4096);
    const c = await Client.create(base({ referenceHubs: ["hank"], link: { requireAuthScheme: false } }));
    const err = await refusal(c.installBundle(issued.file));
    expect(err.message).toMatch(/hub hank is a reference hub, whose PSRD comes over the network \(GET psrd\), never in bundles/);
    const pools = await c.peerHubs[0].pools();
    expect([pools.local.stats().blocks, pools.peer.stats().blocks]).toEqual([0, 0]);
    await c.stop();
    await hank.close();
  });
});

describe("--reference-hubs", () => {
  const argv = (...extra: string[]) => ["carol", "--hubs", ...URLS, "--encryptors", "sam", "--min-nr-shares", "1", ...extra];

  test("names hubs by the last part of their URL; needs hmac-sha256 in --auth-schemes", async () => {
    const config = await parseClientArgs(argv("--auth-schemes", "gf128,hmac-sha256", "--reference-hubs", "helen, hank,helen"));
    expect(config.referenceHubs).toEqual(["helen", "hank"]);
    expect((await parseClientArgs(argv())).referenceHubs).toBeUndefined();
    const noHmac = await refusal(parseClientArgs(argv("--reference-hubs", "hank")));
    expect(noHmac).toBeInstanceOf(ClientUsageError);
    expect(noHmac.message).toMatch(/--reference-hubs: reference hubs sign with hmac-sha256 only, but --auth-schemes is gf128/);
    const unknown = await refusal(parseClientArgs(argv("--auth-schemes", "hmac-sha256", "--reference-hubs", "hank,hugo")));
    expect(unknown.message).toMatch(/--reference-hubs: hugo: not the name of a hub in --hubs \(hank, helen\)/);
    const bad = await refusal(parseClientArgs(argv("--auth-schemes", "hmac-sha256", "--reference-hubs", "-x")));
    expect(bad.message).toMatch(/--reference-hubs: /);
  });

  test("the standalone server: a startup warning per reference hub, registered without a bundle, flagged in the status", async () => {
    const hub = new StubReferenceHub("hank");
    await hub.listen();
    const logger = capturingLogger();
    const stateDir = mkdtempSync(path.join(tmpdir(), "dske-refhub-client-"));
    const config = await parseClientArgs([
      "carol",
      "--port",
      "0",
      "--hubs",
      hub.baseUrl,
      "--encryptors",
      "sam",
      "--min-nr-shares",
      "1",
      "--state-dir",
      stateDir,
      "--auth-schemes",
      "gf128,hmac-sha256",
      "--reference-hubs",
      "hank",
    ]);
    const running = await startClientServer(config, { logger });
    try {
      expect(logger.lines).toContainEqual({
        level: "warn",
        message: expect.stringMatching(
          /^reference hub \(--reference-hubs\): registration and GET psrd without proof of identity/,
        ) as unknown,
        fields: { hub: "hank", reason: REFERENCE_HUB_NOTICE },
      });
      await waitFor(() => running.client.peerHubs[0].registered, 10_000, "registration with the reference hub");
      expect(hub.registrations).toEqual(["carol"]);
      const status = running.client.mgmtStatus() as {
        reference_hubs: string[];
        peer_hubs: { notice?: string; psrd: { awaiting_first_bundle: boolean } }[];
      };
      expect(status.reference_hubs).toEqual(["hank"]);
      expect(status.peer_hubs[0]).toMatchObject({ notice: REFERENCE_HUB_NOTICE, psrd: { awaiting_first_bundle: false } });
      expect(logger.lines.map((l) => l.message)).not.toContain("waiting for the first PSRD bundle of hub");
      expect(logger.lines).toContainEqual(
        expect.objectContaining({ message: "registered with hub", fields: expect.objectContaining({ hub: "hank" }) as unknown }),
      );
    } finally {
      await running.stop();
      await hub.close();
    }
  });
});
