/**
 * @dske/distributor benchmark: seal and open throughput (MB/s of PSRD) of a bundle of one
 * 64 KiB or 4 MiB block, seq 2 (so the tag is computed and verified: the gf128 polynomial MAC
 * over header and payload, plus one SHA-256). CPU time of this process per call, median of 5
 * rounds. Each size takes about DISTRIBUTOR_BENCH_MS (default 1500; half seal, half open), so the
 * whole bench runs about 3 s.
 *
 * Writes bench-results/distributor.json at the repo root. Run: pnpm --filter @dske/distributor bench
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { newChainKey, openBundle, sealBundle } from "../src/index";

const BUDGET_MS = Number(process.env.DISTRIBUTOR_BENCH_MS ?? 1500);
const ROUNDS = 5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** CPU ns per call of f, median of ROUNDS rounds of about budgetMs / ROUNDS each. */
function cpuNsPerCall(f: () => void, budgetMs: number): { ns: number; calls: number } {
  f(); // warm-up
  const perRound: number[] = [];
  let calls = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const end = Date.now() + budgetMs / ROUNDS;
    const c0 = process.cpuUsage();
    let n = 0;
    do {
      f();
      n++;
    } while (Date.now() < end);
    const cu = process.cpuUsage(c0);
    perRound.push(((cu.user + cu.system) * 1000) / n);
    calls += n;
  }
  return { ns: median(perRound), calls };
}

interface Row {
  block_bytes: number;
  bundle_bytes: number;
  seal_ms: number;
  open_ms: number;
  seal_MBps: number;
  open_MBps: number;
  calls: { seal: number; open: number };
}

function measure(size: number): Row {
  const chainKey = newChainKey(randomBytes);
  const nextChainKey = newChainKey(randomBytes);
  const data = new Uint8Array(randomBytes(size));
  const input = {
    hub_name: "hank",
    client_name: "curtis",
    seq: 2,
    auth_scheme: "gf128" as const,
    blocks: [{ block_uuid: randomUUID(), pool_owner: "client" as const, key_prefix: 16, data }],
    chainKey,
    nextChainKey,
  };
  const bytes = sealBundle(input);
  const seal = cpuNsPerCall(() => {
    sealBundle(input).fill(0);
  }, BUDGET_MS / 2);
  const open = cpuNsPerCall(() => {
    const o = openBundle(bytes, { clientName: "curtis", hubName: "hank", expectedSeq: 2, chainKey });
    if (o.blocks[0].data.length !== size) throw new Error("round trip failed");
    o.blocks[0].data.fill(0);
    o.nextChainKey.fill(0);
  }, BUDGET_MS / 2);
  return {
    block_bytes: size,
    bundle_bytes: bytes.length,
    seal_ms: +(seal.ns / 1e6).toFixed(3),
    open_ms: +(open.ns / 1e6).toFixed(3),
    seal_MBps: +((size / seal.ns) * 1e3).toFixed(1),
    open_MBps: +((size / open.ns) * 1e3).toFixed(1),
    calls: { seal: seal.calls, open: open.calls },
  };
}

function main(): void {
  const rows = [64 * 1024, 4 * 1024 * 1024].map(measure);
  console.log("\n@dske/distributor: seal / open of a seq-2 bundle (gf128 tag + SHA-256), CPU time, median of 5 rounds");
  console.table(
    rows.map((r) => ({
      block: r.block_bytes === 65536 ? "64 KiB" : "4 MiB",
      "seal ms": r.seal_ms,
      "open ms": r.open_ms,
      "seal MB/s": r.seal_MBps,
      "open MB/s": r.open_MBps,
    })),
  );
  const out = {
    package: "@dske/distributor",
    date: new Date().toISOString(),
    node: process.version,
    budget_ms: BUDGET_MS,
    rows,
  };
  const dir = fileURLToPath(new URL("../../../bench-results/", import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}distributor.json`, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`\nwrote ${dir}distributor.json`);
}

main();
