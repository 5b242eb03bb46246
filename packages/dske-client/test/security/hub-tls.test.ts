/**
 * Attacks on the client ↔ hub TLS links: a hub whose certificate chains to another CA (an
 * impostor) and a hub whose certificate does not name the URL's host (a certificate of another
 * server) are refused by clients verifying hubs against the topology CA (ClientOptions.hubTls,
 * the standalone's `--hub-ca`). The refused hubs never see a request: no registration, no PSRD
 * consumed with them, no key (k = 3 of 4 hubs, two refused). Hubs are standalone hub servers
 * (startHubServer) on HTTPS; certificates from a throwaway CA (openssl).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startHubServer, type RunningHubServer } from "@dske/hub";
import { capturingLogger, EtsiApiError } from "@dske/protocol";
import { TEST_OPERATOR_TOKEN, registerTestHub, startClient, waitFor, type TestClient } from "../harness";
import { LOOPBACK_SANS, makeTestCa } from "../../../dske-hub/test/tls-certs";

const dir = mkdtempSync(path.join(tmpdir(), "dske-hub-tls-attacks-"));
const hubs: RunningHubServer[] = [];
const clients: TestClient[] = [];
const logger = capturingLogger();
/** Whether a "registration with hub failed" warning names this hub and an error matching `err`. */
const registrationFailed = (hub: string, err: RegExp) =>
  logger.lines.some(
    (l) =>
      l.level === "warn" &&
      l.message === "registration with hub failed; retrying" &&
      l.fields.hub === hub &&
      typeof l.fields.err === "string" &&
      err.test(l.fields.err),
  );
const urls: Record<string, string> = {};

beforeAll(async () => {
  const ca = makeTestCa(dir, "topology-ca");
  const impostorCa = makeTestCa(dir, "impostor-ca");
  const certs = {
    hank: ca.issue("hank", { sans: LOOPBACK_SANS }),
    heidi: ca.issue("heidi", { sans: LOOPBACK_SANS }),
    // Same names, another CA: an impostor on the hub's address.
    helen: impostorCa.issue("helen", { sans: LOOPBACK_SANS }),
    // The topology CA, but a certificate for another server: 127.0.0.1 is not in its SANs.
    hilary: ca.issue("hilary", { sans: ["DNS:elsewhere.example", "IP:192.0.2.7"] }),
  };
  for (const [name, cert] of Object.entries(certs)) {
    const running = await startHubServer(
      {
        name,
        port: 0,
        host: "127.0.0.1",
        shareTimeoutSecs: 60,
        stateDir: path.join(dir, name),
        authSchemes: ["gf128"],
        psrdAuditLog: path.join(dir, name, "psrd-audit.jsonl"),
        operatorToken: TEST_OPERATOR_TOKEN,
        tls: { cert: cert.cert, key: cert.key },
      },
      { log: () => undefined },
    );
    hubs.push(running);
    urls[name] = `${running.url}/hub/${name}`;
    // The in-process local distributors (harness) deliver this hub's PSRD bundles.
    registerTestHub(urls[name], name, () => running.hub);
  }
  const directory = { sam: "carol", sunny: "curtis" };
  const common = { hubs: Object.values(urls), minNrShares: 3, kmeDirectory: directory, hubTls: { ca: ca.certPem }, logger };
  clients.push(await startClient({ name: "carol", encryptors: ["sam"], ...common }));
  clients.push(await startClient({ name: "curtis", encryptors: ["sunny"], ...common }));
});

afterAll(async () => {
  for (const c of clients) await c.close();
  for (const h of hubs) await h.stop();
  rmSync(dir, { recursive: true, force: true });
});

type HubView = {
  hub_name: string;
  url: string;
  tls?: boolean;
  registered: boolean;
  last_error: string | null;
  pools: Record<string, { used: number }>;
};
const peerHubs = (c: TestClient) => c.client.mgmtStatus().peer_hubs as HubView[];
const hubOf = (c: TestClient, name: string) => {
  const h = peerHubs(c).find((x) => x.url === urls[name]);
  if (!h) throw new Error(`no hub ${name} in the status of ${c.client.name}`);
  return h;
};

describe("a client verifying hubs against the topology CA", () => {
  test("registers with the hubs whose certificates chain to the CA and name the URL's host, and only those", async () => {
    for (const c of clients) await c.client.whenRegistered(2);
    for (const c of clients) {
      await waitFor(() => hubOf(c, "helen").last_error !== null && hubOf(c, "hilary").last_error !== null, 10_000, "both bad hubs refused");
      expect(peerHubs(c).map((h) => [h.url.split("/").pop(), h.tls, h.registered])).toEqual([
        ["hank", true, true],
        ["heidi", true, true],
        ["helen", true, false],
        ["hilary", true, false],
      ]);
    }
  });

  test("an impostor hub (certificate from another CA): the status and the log name the hub and the TLS error", () => {
    const [carol] = clients;
    expect(hubOf(carol, "helen").last_error).toMatch(
      /TLS verification of the hub failed: (SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE) \(/,
    );
    expect(registrationFailed("helen", /TLS verification of the hub failed/)).toBe(true);
  });

  test("a certificate without the URL's host in its SANs: refused, named", () => {
    const [carol] = clients;
    expect(hubOf(carol, "hilary").last_error).toMatch(
      /TLS verification of the hub failed: ERR_TLS_CERT_ALTNAME_INVALID \(Hostname\/IP does not match certificate's altnames: IP: 127\.0\.0\.1 is not in the cert's list/,
    );
    expect(registrationFailed("hilary", /ERR_TLS_CERT_ALTNAME_INVALID/)).toBe(true);
  });

  test("no key through the refused hubs and no PSRD consumed with them", async () => {
    const [carol, curtis] = clients;
    const api = carol.etsi("sam");
    const err = await api.getKey("sunny").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(EtsiApiError);
    expect((err as EtsiApiError).status).toBe(503);
    expect(carol.client.mgmtStatus().keys).toMatchObject({ issued: 0 });
    expect(curtis.client.mgmtStatus().keys).toMatchObject({ delivered: 0 });
    for (const name of ["helen", "hilary"]) {
      const hub = hubs.find((h) => h.hub.name === name);
      // The refused hubs issued their first bundles (out of band) but never heard from the clients:
      // no registration (no encryptors), the hub-owned PSRD still staged (never confirmed), nothing
      // of the client-owned pool consumed beyond the block's MAC key prefix (16 bytes per block, gf128).
      const seen = hub?.hub.status().peer_clients.map((p) => ({
        client: p.client_name,
        encryptors: p.encryptor_names,
        consumed: p.pools.client_owned.used - 16 * p.pools.client_owned.blocks,
        confirmedHubOwnedBlocks: p.pools.hub_owned.blocks,
        stagedBlocks: p.psrd?.staged.blocks,
      }));
      expect(seen).toEqual(
        ["carol", "curtis"].map((client) => ({ client, encryptors: [], consumed: 0, confirmedHubOwnedBlocks: 0, stagedBlocks: 1 })),
      );
      // The clients' pools with them: untouched.
      for (const c of clients) {
        expect(Object.values(hubOf(c, name).pools).map((p) => p.used)).toEqual([0, 0]);
      }
    }
  });
});
