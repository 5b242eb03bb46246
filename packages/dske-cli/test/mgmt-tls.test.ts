/**
 * Attack: a program on a hub's port that presents a certificate of another CA (an impostor
 * node). dske-cli's management calls (node:http, mgmt.ts) must refuse the TLS handshake, so the
 * operator token never reaches it; the same server with a certificate of the topology CA is
 * answered (the check can fail both ways).
 */
import { readFileSync, mkdtempSync } from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { certLayout, ensureCertificates, readTlsMaterial } from "../src/certs";
import { parseConfig } from "../src/config";
import { probeNode, requestStop } from "../src/mgmt";
import { Topology } from "../src/topology";

jest.setTimeout(120_000);

const TOKEN = "a".repeat(64);

async function serveAs(root: string): Promise<{ server: https.Server; port: number; seen: string[] }> {
  const files = certLayout(root).hub("hank");
  const seen: string[] = [];
  const server = https.createServer({ cert: readFileSync(files.cert), key: readFileSync(files.key) }, (req, res) => {
    seen.push(`${req.method ?? ""} ${req.url ?? ""} ${req.headers.authorization ?? ""}`);
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ name: "hank" }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { server, port: (server.address() as AddressInfo).port, seen };
}

describe("management calls over TLS", () => {
  const topologyRoot = mkdtempSync(path.join(tmpdir(), "dske-mgmt-tls-"));
  const otherRoot = mkdtempSync(path.join(tmpdir(), "dske-mgmt-tls-other-"));

  beforeAll(async () => {
    await ensureCertificates(topologyRoot, { clients: ["carol"], hubs: ["hank"], saes: ["sam"] });
    await ensureCertificates(otherRoot, { clients: ["carol"], hubs: ["hank"], saes: ["sam"] });
  });

  const hubAt = (port: number) =>
    new Topology(
      parseConfig(
        `min_nr_shares: 1\nhubs:\n  - name: hank\n    port: ${port}\nclients:\n  - name: carol\n    encryptors:\n      - name: sam\n`,
        "t.yaml",
      ),
    ).hubs[0];

  it("an impostor with another CA's certificate: refused before any request, the token never sent", async () => {
    const credential = { token: TOKEN, tls: readTlsMaterial(certLayout(topologyRoot), certLayout(topologyRoot).operator) };
    const impostor = await serveAs(otherRoot);
    try {
      const r = await probeNode(hubAt(impostor.port), 5000, credential);
      expect(r.state).toBe("down");
      expect(r.state === "down" ? r.detail : "").toMatch(/certificate|signature/i);
      expect(await requestStop(hubAt(impostor.port), 5000, credential)).toBe(false);
      expect(impostor.seen).toEqual([]);
    } finally {
      impostor.server.close();
    }
    // The same server with the topology CA's certificate is answered, with the token.
    const genuine = await serveAs(topologyRoot);
    try {
      const r = await probeNode(hubAt(genuine.port), 5000, credential);
      expect(r.state).toBe("up");
      expect(genuine.seen).toEqual([`GET /hub/hank/mgmt/v1/status Bearer ${TOKEN}`]);
    } finally {
      genuine.server.close();
    }
  });
});
