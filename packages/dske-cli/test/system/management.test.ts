/**
 * System: the management plane of real node processes started by `dske-cli start` (the default
 * topology, plain HTTP, own state dir). An attacker without the operator token — or a web page
 * the operator opens — can neither read a node's status or metrics nor stop it; `dske-cli`
 * (which reads `<state_dir>/operator-token`) still can; the user guide's `status | jq` recipes
 * work on its output (status-jq.ts). Ports 18900-18909.
 */
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { nodeBaseUrl } from "../../src/topology";
import { readPidFile } from "../../src/pid-file";
import { runningTopology, SYSTEM_TIMEOUT } from "./harness";
import { statusJqRecipes } from "./status-jq";

jest.setTimeout(SYSTEM_TIMEOUT);

const t = runningTopology(18900);
const evil = "http://evil.example";

const tokenFile = (): string => path.join(t.stateDir, "operator-token");
const token = (): string => readFileSync(tokenFile(), "utf8").trim();

test("dske-cli created the operator token: 64 lowercase hex + newline, mode 0600; nodes got its path, never the token", () => {
  const file = tokenFile();
  expect(readFileSync(file, "utf8")).toMatch(/^[0-9a-f]{64}\n$/);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  for (const node of t.topology.nodes) {
    expect(readPidFile(path.join(t.stateDir, "pids", `${node.name}.pid`))).toBeDefined();
    const argv = t.nodeArgv(node.name); // its process's, or (processes: shared) the host's and its spec entry
    expect(argv.indexOf("--operator-token-file")).toBeGreaterThan(0);
    expect(argv[argv.indexOf("--operator-token-file") + 1]).toBe(file);
    expect(argv.join(" ")).not.toContain(token());
  }
});

test("without the operator credential: status and metrics 401 at every hub and client; a wrong token 403; health open", async () => {
  const wrong = { Authorization: `Bearer ${"0".repeat(64)}` };
  for (const node of t.topology.nodes) {
    const base = nodeBaseUrl(node);
    const root = new URL(base).origin;
    const status = await t.http.get(`${base}/mgmt/v1/status`);
    expect([node.name, status.status]).toEqual([node.name, 401]);
    expect((status.data as { message: string }).message).toMatch(/operator credential/);
    expect(JSON.stringify(status.data)).not.toMatch(/peer_clients|peer_hubs|key_id|slave_sae/);
    expect([node.name, (await t.http.get(`${base}/mgmt/v1/status`, { headers: wrong })).status]).toEqual([node.name, 403]);
    if (node.kind === "client") {
      // The status long poll (wait_ready_ms) is the same operator route: refused at once, nothing waits.
      const poll = `${base}/mgmt/v1/status?wait_ready_ms=30000`;
      expect([node.name, (await t.http.get(poll, { timeout: 10_000 })).status]).toEqual([node.name, 401]);
      expect([node.name, (await t.http.get(poll, { headers: wrong, timeout: 10_000 })).status]).toEqual([node.name, 403]);
    }
    for (const url of [`${base}/metrics`, `${root}/metrics`]) {
      const m = await t.http.get(url, { responseType: "text" });
      expect([url, m.status]).toEqual([url, 401]);
      expect(String(m.data)).not.toContain("dske_");
    }
    const health = await t.http.get(`${base}/health`);
    expect([node.name, health.status, health.data]).toEqual([node.name, 200, { status: "ok" }]);
  }
});

test("a cross-site stop (text/plain, foreign Origin) and a text/plain stop are refused; every node keeps running", async () => {
  for (const node of t.topology.nodes) {
    const stop = `${nodeBaseUrl(node)}/mgmt/v1/stop`;
    // What any web page can send: a "simple" request, no preflight.
    const page = await t.http.post(stop, "{}", { headers: { "Content-Type": "text/plain", Origin: evil } });
    expect([node.name, page.status]).toEqual([node.name, 403]);
    expect(page.data).toMatchObject({ message: "cross-site request refused" });
    // Even with the token, a cross-site request or a non-JSON write does nothing.
    const auth = { Authorization: `Bearer ${token()}` };
    expect((await t.http.post(stop, {}, { headers: { ...auth, Origin: evil } })).status).toBe(403);
    const plain = await t.http.post(stop, "{}", { headers: { ...auth, "Content-Type": "text/plain" } });
    expect([node.name, plain.status]).toEqual([node.name, 415]);
    expect((await t.http.post(stop, "", { headers: { ...auth, "Content-Type": "application/x-www-form-urlencoded" } })).status).toBe(415);
    // Without the token a JSON stop is refused too.
    expect((await t.http.post(stop, {}, { headers: { "Content-Type": "application/json" } })).status).toBe(401);
  }
  const r = await t.cli("status", "--verbose");
  expect(r.code).toBe(0);
  for (const node of t.topology.nodes) {
    expect(r.out).toContain(`${node.kind === "hub" ? "Hub" : "Client"} ${node.name} on port ${node.port}: running`);
  }
});

test("/redoc on every node (open, like /docs): 200 HTML naming its routes; also at the root", async () => {
  for (const node of t.topology.nodes) {
    const base = nodeBaseUrl(node);
    for (const url of [`${base}/redoc`, `${new URL(base).origin}/redoc`]) {
      const page = await t.http.get(url, { responseType: "text" });
      expect([url, page.status]).toEqual([url, 200]);
      expect(String(page.headers["content-type"])).toMatch(/^text\/html/);
      const html = String(page.data);
      const routes =
        node.kind === "hub"
          ? ["/dske/api/v1/key-share", "/dske/oob/v1/registration", "/mgmt/v1/status", "/redoc"]
          : ["/etsi/api/v1/keys/{slave_SAE_ID}/enc_keys", "/etsi/api/v1/keys/{master_SAE_ID}/dec_keys", "/mgmt/v1/status", "/redoc"];
      for (const r of routes) expect([url, html.includes(`${base.slice(new URL(base).origin.length)}${r}`)]).toEqual([url, true]);
      expect(html).not.toMatch(/<script/i);
    }
  }
});

statusJqRecipes(t);

test("dske-cli status --json and stop use the token: status documents come back, then every node stops", async () => {
  const json = await t.cli("status", "--json");
  expect(json.code).toBe(0);
  const docs = JSON.parse(json.stdout) as { name: string; running: boolean }[];
  expect(docs.map((d) => [d.name, d.running])).toEqual(t.topology.nodes.map((n) => [n.name, true]));
  expect(json.stdout).toContain('"peer_clients"');
  expect(json.stdout).toContain('"peer_hubs"');
  const stop = await t.cli("stop");
  expect(stop.code).toBe(0);
  const after = await t.cli("status", "--verbose");
  for (const node of t.topology.nodes) expect(after.out.join("\n")).toMatch(new RegExp(`${node.name} on port ${node.port}: not running`));
});
