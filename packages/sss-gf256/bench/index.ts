/**
 * Throughput of @dske/sss vs shamir-secret-sharing (the npm reference), same run, same machine.
 * n = 5, k = 3; secrets of 32 B, 1 KiB, 64 KiB. Also combineRobust with m = 5, k = 3, one bad share.
 * Prints a table; writes bench-results/sss.json at the repo root.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import * as reference from "shamir-secret-sharing";
import { combine, combineRobust, split, type Share } from "../src/index.js";

const N = 5;
const K = 3;
const SIZES = [32, 1024, 65536];
const BUDGET_MS = 1200;

interface Measure {
  ops: number;
  opsPerSec: number;
  mbPerSec: number;
}

async function measure(bytes: number, fn: () => unknown): Promise<Measure> {
  // warm-up (JIT) then timed loop; at least 3 operations
  const warmEnd = performance.now() + BUDGET_MS / 4;
  while (performance.now() < warmEnd) await fn();
  let ops = 0;
  const start = performance.now();
  let now = start;
  while (now - start < BUDGET_MS || ops < 3) {
    await fn();
    ops++;
    now = performance.now();
  }
  const secs = (now - start) / 1000;
  return { ops, opsPerSec: ops / secs, mbPerSec: (ops * bytes) / secs / 1e6 };
}

const toReference = (s: Share): Uint8Array => {
  const out = new Uint8Array(s.y.length + 1);
  out.set(s.y);
  out[s.y.length] = s.x;
  return out;
};

interface Row {
  operation: string;
  secretBytes: number;
  ours: Measure;
  peerName: string;
  peer: Measure;
  ratio: number;
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  for (const size of SIZES) {
    const secret = new Uint8Array(randomBytes(size));
    const ours = split(secret, N, K);
    const theirs = await reference.split(secret, N, K);
    const oursK = ours.slice(0, K);
    const theirsK = theirs.slice(0, K);
    const corrupted = ours.map((s) => ({ x: s.x, y: s.y.slice() }));
    corrupted[1].y[size >> 1] ^= 0x5a; // one bad share (x = 2)
    // sanity: both sides really compute the secret
    if (!Buffer.from(combine(oursK)).equals(secret)) throw new Error("ours: combine mismatch");
    if (!Buffer.from(await reference.combine(ours.slice(2).map(toReference))).equals(secret)) throw new Error("cross mismatch");
    const robust = combineRobust(corrupted, K);
    if (!Buffer.from(robust.secret).equals(secret) || robust.dropped.join() !== "2") throw new Error("robust mismatch");

    const sOurs = await measure(size, () => split(secret, N, K));
    const sRef = await measure(size, () => reference.split(secret, N, K));
    rows.push({
      operation: "split",
      secretBytes: size,
      ours: sOurs,
      peerName: "shamir-secret-sharing split",
      peer: sRef,
      ratio: sOurs.mbPerSec / sRef.mbPerSec,
    });
    const cOurs = await measure(size, () => combine(oursK));
    const cRef = await measure(size, () => reference.combine(theirsK));
    rows.push({
      operation: "combine (k=3 shares)",
      secretBytes: size,
      ours: cOurs,
      peerName: "shamir-secret-sharing combine",
      peer: cRef,
      ratio: cOurs.mbPerSec / cRef.mbPerSec,
    });
    const rOurs = await measure(size, () => combineRobust(corrupted, K));
    rows.push({
      operation: "combineRobust (m=5, 1 bad)",
      secretBytes: size,
      ours: rOurs,
      peerName: "shamir-secret-sharing combine (k shares, no correction)",
      peer: cRef,
      ratio: rOurs.mbPerSec / cRef.mbPerSec,
    });
    rows.push({
      operation: "combineRobust vs our combine",
      secretBytes: size,
      ours: rOurs,
      peerName: "@dske/sss combine (k shares)",
      peer: cOurs,
      ratio: rOurs.mbPerSec / cOurs.mbPerSec,
    });
  }

  const fmt = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
  const header = ["operation", "secret", "ours ops/s", "ours MB/s", "peer ops/s", "peer MB/s", "ratio", "peer"];
  const table = rows.map((r) => [
    r.operation,
    r.secretBytes >= 1024 ? `${r.secretBytes / 1024} KiB` : `${r.secretBytes} B`,
    fmt(r.ours.opsPerSec),
    fmt(r.ours.mbPerSec),
    fmt(r.peer.opsPerSec),
    fmt(r.peer.mbPerSec),
    `${fmt(r.ratio)}x`,
    r.peerName,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
  const line = (cells: string[]): string => "| " + cells.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
  console.log(`@dske/sss vs shamir-secret-sharing@0.0.4, n=${N}, k=${K}, Node ${process.version}`);
  console.log(line(header));
  console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
  for (const row of table) console.log(line(row));

  const dir = new URL("../../../bench-results/", import.meta.url);
  mkdirSync(dir, { recursive: true });
  const file = new URL("sss.json", dir);
  writeFileSync(
    file,
    JSON.stringify(
      { package: "@dske/sss", node: process.version, date: new Date().toISOString(), n: N, k: K, budgetMs: BUDGET_MS, rows },
      null,
      2,
    ) + "\n",
  );
  console.log(`wrote ${file.pathname}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
