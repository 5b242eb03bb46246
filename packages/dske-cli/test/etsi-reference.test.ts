/**
 * `dske-cli etsi-qkd` against a KME that answers like the reference implementation's client
 * (its user guide): `keys` as ONE object (enc_keys, and dec_keys in its protocol guide), status
 * fields in lower case. A small in-process fake KME hosts both SAEs.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { runCli } from "../src/cli";
import { CapturedOutput } from "../src/output";

const KEY = { key_ID: "4b700076-9691-4935-9e9b-707c1425fd29", key: "JmaqM91DsWC/qlawABoVOw==" };
const REFERENCE_STATUS = {
  source_kme_id: "a",
  target_kme_id: "",
  master_sae_id: "sa",
  slave_sae_id: "sb",
  key_size: 128,
  stored_key_count: 100,
  max_key_count: 1000,
  max_key_per_request: 1,
  max_key_size: 16777216,
  min_key_size: 32,
  max_sae_id_count: 0,
};

/** What the fake KME answers per route (`dec` as the protocol guide: one object; or an array as its code). */
let answers: { enc: unknown; dec: unknown; status: unknown };
const seen: { url: string; auth: string | undefined }[] = [];
let server: http.Server;
let dir: string;
let config: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    seen.push({ url: req.url ?? "", auth: req.headers.authorization });
    const url = req.url ?? "";
    const body = url.includes("/enc_keys") ? answers.enc : url.includes("/dec_keys") ? answers.dec : answers.status;
    res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as AddressInfo).port;
  dir = mkdtempSync(path.join(tmpdir(), "dske-cli-etsi-ref-"));
  config = path.join(dir, "dske-config.yaml");
  // One hub (never called) at base_port, the client `a` (hosting both SAEs) on the fake KME's port.
  writeFileSync(
    config,
    `base_port: ${port - 1}\nmin_nr_shares: 1\nhubs: [{name: h}]\nclients:\n  - {name: a, encryptors: [{name: sa}, {name: sb}]}\n`,
  );
});
beforeEach(() => {
  answers = { enc: { keys: KEY }, dec: { keys: KEY }, status: REFERENCE_STATUS };
  seen.length = 0;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

async function etsi(...args: string[]) {
  const out = new CapturedOutput();
  const code = await runCli(["--config", config, "etsi-qkd", "sa", "sb", ...args], { out });
  return { code, out: out.lines, stderr: out.stderr };
}

test("get-key-pair: keys as one object on both sides → Key values match (the reference's answer is printed as is)", async () => {
  const r = await etsi("get-key-pair");
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  expect(r.out.at(-1)).toBe("Key values match");
  expect(r.out.join("\n")).toContain(JSON.stringify({ keys: KEY }, null, 2));
  // Each call as its SAE (the reference ignores the header; ours needs it). First the slave's KME
  // is checked (its open health route; a 200 of whatever body, or a 404 of a reference KME, counts as up).
  expect(seen.map((s) => [s.url.split("?")[0], s.auth])).toEqual([
    ["/client/a/health", "sb"],
    ["/client/a/etsi/api/v1/keys/sb/enc_keys", "sa"],
    ["/client/a/etsi/api/v1/keys/sa/dec_keys", "sb"],
  ]);
});

test("dec_keys as an array (the reference's code) and enc_keys as one object mix fine; a different value is caught", async () => {
  answers.dec = { keys: [KEY] };
  expect((await etsi("get-key-pair")).out.at(-1)).toBe("Key values match");
  answers.dec = { keys: { key_ID: KEY.key_ID, key: "AAAAAAAAAAAAAAAAAAAAAA==" } };
  const r = await etsi("get-key-pair");
  expect(r.code).toBe(1);
  expect(r.out).toContain("Key values do NOT match:");
});

test("get-key and get-key-with-key-ids accept the single-object container", async () => {
  expect((await etsi("get-key")).code).toBe(0);
  expect((await etsi("get-key-with-key-ids", KEY.key_ID)).code).toBe(0);
  answers.enc = { keys: "nonsense" };
  const bad = await etsi("get-key");
  expect(bad.code).toBe(1);
  expect(bad.stderr).toContain("returned no valid key container");
});

test("get-status: the reference's lower-case fields are a valid status; a document that is no status is refused", async () => {
  const ok = await etsi("get-status");
  expect(ok.code).toBe(0);
  expect(ok.out[0]).toMatch(
    /^Invoke ETSI QKD Status API on client \(KME\) a port \d+ master encryptor \(SAE\) sa slave encryptor \(SAE\) sb:$/,
  );
  expect(JSON.parse(ok.out.slice(1).join("\n"))).toEqual(REFERENCE_STATUS);
  answers.status = { source_kme_id: "a" };
  const bad = await etsi("get-status");
  expect(bad.code).toBe(1);
  expect(bad.stderr).toContain("ETSI QKD Status API on client (KME) a returned no valid status");
});
