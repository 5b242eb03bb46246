/**
 * The user guide's `status | jq` recipes, run literally through a shell (bash, with pipefail so
 * that a failing dske-cli fails the pipeline) against the BUILT dske-cli
 * of a running topology (registered by the test file that owns the topology). jq is a system
 * package (scripts/install-system-deps.sh installs it): without it these tests fail, naming
 * the script; they never skip.
 */
import { execFile, execFileSync } from "node:child_process";
import { BIN, eventually, type SystemTopology } from "./harness";

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Run a shell pipeline (pipefail); `dske-cli` in it is the built CLI with this topology's config and state dir. */
function sh(t: SystemTopology, pipeline: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const dske = [process.execPath, BIN, "--config", t.configFile, "--state-dir", t.stateDir].map(quote).join(" ");
  return new Promise((resolve) => {
    const command = pipeline.replace(/\bdske-cli\b/g, dske);
    execFile("bash", ["-o", "pipefail", "-c", command], { cwd: t.dir, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** `sh` that must succeed; its stdout as JSON. */
async function jq(t: SystemTopology, pipeline: string): Promise<unknown> {
  const r = await sh(t, pipeline);
  if (r.code !== 0) throw new Error(`${pipeline} failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as unknown;
}

interface BlockPool {
  blocks: { uuid: string; size: number; nr_used_bytes: number; nr_unused_bytes: number }[];
  owner: string;
}

function expectPool(value: unknown, owner: "local" | "peer"): BlockPool {
  const pool = value as BlockPool;
  expect(pool.owner).toBe(owner);
  expect(pool.blocks.length).toBeGreaterThan(0);
  for (const b of pool.blocks) {
    expect(Object.keys(b).sort()).toEqual(["nr_unused_bytes", "nr_used_bytes", "size", "uuid"]); // never `data`
    expect(b.nr_used_bytes + b.nr_unused_bytes).toBe(b.size);
  }
  return pool;
}

export function statusJqRecipes(t: SystemTopology): void {
  test("jq is installed (scripts/install-system-deps.sh installs it)", () => {
    let version: string;
    try {
      version = execFileSync("jq", ["--version"], { encoding: "utf8" });
    } catch (err) {
      throw new Error("jq is missing: run scripts/install-system-deps.sh (Debian package jq)", { cause: err });
    }
    expect(version).toMatch(/^jq-/);
  });

  test("the user guide: `--client carol status | tail -n +2 | jq` (with --reference) and its `.local_pool` query", async () => {
    const doc = (await jq(t, "dske-cli --client carol status --reference | tail -n +2 | jq")) as { name: string };
    expect(doc.name).toBe("carol");
    const pool = await jq(
      t,
      `dske-cli --client carol status --reference | tail -n +2 | jq '(.peer_hubs[] | select(.hub_name == "hank") .local_pool)'`,
    );
    expectPool(pool, "local");
  });

  test("`--client carol status --json | jq '(.peer_hubs[] | select(.hub_name == \"hank\") .local_pool)'`: the same query, no tail", async () => {
    const query = `jq '(.peer_hubs[] | select(.hub_name == "hank") .local_pool)'`;
    const pool = expectPool(await jq(t, `dske-cli --client carol status --json | ${query}`), "local");
    // The same pool as the reference format gives it.
    expect(pool.blocks.map((b) => b.uuid)).toEqual(
      expectPool(await jq(t, `dske-cli --client carol status --reference | tail -n +2 | ${query}`), "local").blocks.map((b) => b.uuid),
    );
    expectPool(
      await jq(t, `dske-cli --hub hank status --json | jq '(.peer_clients[] | select(.client_name == "carol") .peer_pool)'`),
      "peer",
    );
    // carol's local pool with hank (client-owned) is hank's peer pool of carol, and hank's local
    // pool (hub-owned) is carol's peer pool, block for block (read twice: a bundle may be landing).
    const same = async (hubQuery: string, clientQuery: string): Promise<boolean> =>
      JSON.stringify(await jq(t, `dske-cli --hub hank status --json | jq -c '${hubQuery}'`)) ===
      JSON.stringify(await jq(t, `dske-cli --client carol status --json | jq -c '${clientQuery}'`));
    await eventually("hank and carol to list the same blocks", async () => {
      const client = await same(
        '[.peer_clients[] | select(.client_name == "carol") .peer_pool.blocks[].uuid]',
        '[.peer_hubs[] | select(.hub_name == "hank") .local_pool.blocks[].uuid]',
      );
      const hub = await same(
        '[.peer_clients[] | select(.client_name == "carol") .local_pool.blocks[].uuid]',
        '[.peer_hubs[] | select(.hub_name == "hank") .peer_pool.blocks[].uuid]',
      );
      return client && hub;
    });
  });

  test("all nodes: one JSON array (`jq length`, `select(.kind == ...)`); no block bytes anywhere", async () => {
    expect(await jq(t, "dske-cli status --json | jq length")).toBe(t.topology.nodes.length);
    expect(await jq(t, `dske-cli status --json | jq -c '[.[] | select(.kind == "hub") | .name]'`)).toEqual(
      t.topology.hubs.map((h) => h.name),
    );
    expect(await jq(t, `dske-cli status --json | jq '[.. | objects | select(has("data"))] | length'`)).toBe(0);
  });
}
