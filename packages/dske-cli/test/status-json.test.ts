/**
 * `dske-cli status --json` (one JSON document) and `--reference` (the reference manager's lines),
 * and the summary of a reference node that only has the block view (`local_pool` / `peer_pool`).
 */
import { CapturedOutput } from "../src/output";
import { formatNodeSummary, printStatusJson, printStatusReference, statusJson, type StatusResult } from "../src/status-command";
import type { NodeSpec } from "../src/topology";

const hank: NodeSpec = { kind: "hub", name: "hank", port: 8100, encryptors: [] };
const carol: NodeSpec = { kind: "client", name: "carol", port: 8105, encryptors: ["sam"] };
const cindy: NodeSpec = { kind: "client", name: "cindy", port: 8107, encryptors: [] };
const pool = (owner: "local" | "peer", used: number) => ({
  blocks: [{ uuid: "46627eb9-7e0d-4d40-8d67-8747f32a92f5", size: 2000, nr_used_bytes: used, nr_unused_bytes: 2000 - used }],
  owner,
});
const carolDoc = {
  name: "carol",
  peer_hubs: [{ hub_name: "hank", registered: true, local_pool: pool("local", 288), peer_pool: pool("peer", 192) }],
};
const hankDoc = { name: "hank", peer_clients: [{ client_name: "carol", local_pool: pool("local", 192), peer_pool: pool("peer", 288) }] };
const up = (node: NodeSpec, status: unknown): StatusResult => ({ node, running: true, status });
const down: StatusResult = { node: cindy, running: false, detail: "ECONNREFUSED" };

function printed(print: (r: readonly StatusResult[], out: CapturedOutput) => void, results: StatusResult[]): CapturedOutput {
  const out = new CapturedOutput();
  print(results, out);
  return out;
}

describe("status --json", () => {
  test("one node selected: its status document itself (the user guide's jq recipes apply)", () => {
    const out = printed(printStatusJson, [up(carol, carolDoc)]);
    const doc = JSON.parse(out.stdout) as typeof carolDoc;
    expect(doc).toEqual(carolDoc);
    expect(doc.peer_hubs.find((h) => h.hub_name === "hank")?.local_pool).toEqual(pool("local", 288));
  });

  test("several nodes: one array, each document with name, kind and running; a node that is down stands as {name, kind, running:false, error}", () => {
    const out = printed(printStatusJson, [up(hank, hankDoc), up(carol, carolDoc), down]);
    expect(JSON.parse(out.stdout)).toEqual([
      { ...hankDoc, kind: "hub", running: true },
      { ...carolDoc, kind: "client", running: true },
      { name: "cindy", kind: "client", running: false, error: "not running (ECONNREFUSED)" },
    ]);
    expect(out.lines).toHaveLength(1); // one document, pretty-printed on several lines of one write
  });

  test("one node that is down, or answers without a status", () => {
    expect(statusJson([down])).toEqual({ name: "cindy", kind: "client", running: false, error: "not running (ECONNREFUSED)" });
    const foreign: StatusResult = { node: hank, running: false, foreign: true, detail: "HTTP 401 from http://x" };
    expect(statusJson([foreign])).toEqual({ name: "hank", kind: "hub", running: false, error: "no status (HTTP 401 from http://x)" });
    expect(statusJson([])).toEqual([]);
  });
});

describe("status --reference", () => {
  test('"Status for KIND NAME on port P" then the JSON, per node (`tail -n +2 | jq` on one node)', () => {
    const one = printed(printStatusReference, [up(carol, carolDoc)]);
    expect(one.lines[0]).toBe("Status for client carol on port 8105");
    expect(JSON.parse(one.lines.slice(1).join("\n"))).toEqual(carolDoc);
    const two = printed(printStatusReference, [up(hank, hankDoc), down]);
    expect(two.lines.filter((l) => l.startsWith("Status for "))).toEqual([
      "Status for hub hank on port 8100",
      "Status for client cindy on port 8107",
    ]);
    expect(two.stdout).toContain('"error": "not running (ECONNREFUSED)"');
  });
});

describe("summary of a node with only the reference's block view", () => {
  test("hub: client-owned = peer_pool, hub-owned = local_pool", () => {
    const lines = formatNodeSummary(up(hank, hankDoc));
    expect(lines[2]).toMatch(/carol .* client-owned PSRD: 1712 B left, 288 B used, 1 block; hub-owned: 1808 B left, 192 B used, 1 block$/);
  });

  test("client: client-owned = local_pool, hub-owned = peer_pool", () => {
    const lines = formatNodeSummary(up(carol, carolDoc));
    expect(lines).toContainEqual(
      expect.stringMatching(
        /hank\s+registered .* client-owned PSRD: 1712 B left, 288 B used, 1 block; hub-owned: 1808 B left, 192 B used, 1 block$/,
      ),
    );
  });
});
