/**
 * Helpers shared by the end-to-end benches (index.ts on loopback, wan.ts in network namespaces):
 * a lean keep-alive JSON caller, percentiles, node CPU from /proc, and the machine-speed unit
 * (CPU per bare HTTP exchange) the per-key CPU figures are expressed in.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { readJsonResponse } from "@dske/protocol";

/** Keep-alive agent of the benches' SAE callers. */
export const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/**
 * POST JSON with node:http (keep-alive); never throws on HTTP status. A request that failed on a
 * reused keep-alive socket the server had just closed (idle timeout) is retried once, as the
 * node:http docs advise (the server never saw it).
 */
export async function postJson(url: string, body: unknown, sae: string): Promise<{ status: number; data: unknown }> {
  try {
    return await postJsonOnce(url, body, sae);
  } catch (err) {
    if ((err as { reusedSocket?: boolean }).reusedSocket && (err as NodeJS.ErrnoException).code === "ECONNRESET") {
      return postJsonOnce(url, body, sae);
    }
    throw err;
  }
}

function postJsonOnce(url: string, body: unknown, sae: string): Promise<{ status: number; data: unknown }> {
  const bytes = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: "POST", agent, headers: { Authorization: sae, "Content-Type": "application/json", "Content-Length": bytes.length } },
      (res) => void readJsonResponse(res).then(resolve, reject),
    );
    req.setTimeout(60_000, () => req.destroy(new Error("timeout")));
    req.on("error", (err) => reject(Object.assign(err, { reusedSocket: req.reusedSocket })));
    req.end(bytes);
  });
}

export interface EtsiKey {
  key_ID: string;
  key: string;
}

/** The outcome of one key pair round (keyPairRound). */
export type KeyPairRound =
  | { readonly ok: true; readonly enc: EtsiKey[]; readonly dec: EtsiKey[]; readonly encMs: number; readonly decMs: number }
  | { readonly ok: false; readonly error: string };

/**
 * One key pair as SAEs get it: enc_keys (`number` keys of KEY_BITS) on the master's KME, then
 * dec_keys of the same key IDs on the slave's KME (base URLs of the two clients). An HTTP error
 * is an outcome; a failed connection throws. The caller compares the keys.
 */
export async function keyPairRound(
  masterKme: string,
  slaveKme: string,
  master: string,
  slave: string,
  number: number,
  bits = 256,
): Promise<KeyPairRound> {
  const t0 = performance.now();
  const enc = await postJson(`${masterKme}/etsi/api/v1/keys/${slave}/enc_keys`, { number, size: bits }, master);
  const t1 = performance.now();
  if (enc.status !== 200) return { ok: false, error: `enc_keys ${enc.status} ${JSON.stringify(enc.data)}` };
  const keys = (enc.data as { keys: EtsiKey[] }).keys;
  const dec = await postJson(
    `${slaveKme}/etsi/api/v1/keys/${master}/dec_keys`,
    { key_IDs: keys.map((k) => ({ key_ID: k.key_ID })) },
    slave,
  );
  const t2 = performance.now();
  if (dec.status !== 200) return { ok: false, error: `dec_keys ${dec.status} ${JSON.stringify(dec.data)}` };
  return { ok: true, enc: keys, dec: (dec.data as { keys: EtsiKey[] }).keys, encMs: t1 - t0, decMs: t2 - t1 };
}

export function pct(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const a = [...xs].sort((x, y) => x - y);
  return a[Math.min(a.length - 1, Math.floor((p / 100) * a.length))];
}

/**
 * CPU ms (user + system) of the processes whose pid files are in `pidsDir` (`only`: those names),
 * from /proc/<pid>/stat; NaN if one is gone. A process named by several pid files (a node host,
 * `processes: shared`) counts once; `only` then cannot separate its nodes and counts all of it.
 */
export function nodeCpuMsOf(pidsDir: string, only?: ReadonlySet<string>): number {
  let total = 0;
  if (!existsSync(pidsDir)) return Number.NaN;
  const seen = new Set<number>();
  for (const f of readdirSync(pidsDir)) {
    if (only && !only.has(f.replace(/\.pid$/, ""))) continue;
    const pid = Number.parseInt(readFileSync(path.join(pidsDir, f), "utf8"), 10);
    if (seen.has(pid)) continue;
    seen.add(pid);
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
      total += (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks of 10 ms
    } catch {
      return Number.NaN;
    }
  }
  return total;
}

/** Resident set size in MB of the process in a pid file (VmRSS), NaN if gone. */
export function rssMbOf(pidFile: string): number {
  try {
    const pid = Number.parseInt(readFileSync(pidFile, "utf8"), 10);
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/**
 * The machine's speed in this run, as the peer of the per-key CPU figures: CPU ms per bare HTTP
 * exchange (node:http server and keep-alive client in this process, 16 concurrent callers, a
 * 40-byte JSON request, a key-container-sized JSON answer). The e2e figures are reported both in
 * ms and in these units, which stay comparable when the shared machine runs slower or faster.
 */
export async function referenceHttpCpuMs(ms = 2000, callers = 16): Promise<number> {
  const answer = Buffer.from(
    JSON.stringify({ keys: [{ key_ID: "0b0e7c9e-1f7a-4c1e-9a57-2d1c3f0e6a40", key: "q0F0pQ8dYy0Zb2m9m3k8b0mY4q7Q2r1Xq0F0pQ8dYy0=" }] }),
  );
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      JSON.parse(Buffer.concat(chunks).toString("utf8"));
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": answer.length });
      res.end(answer);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  const url = `http://127.0.0.1:${port}/api/v1/keys/sunny/enc_keys`;
  try {
    for (let i = 0; i < 500; i++) await postJson(url, { number: 1, size: 256 }, "sam"); // warm up
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    let n = 0;
    await Promise.all(
      Array.from({ length: callers }, async () => {
        while (performance.now() - t0 < ms) {
          await postJson(url, { number: 1, size: 256 }, "sam");
          n++;
        }
      }),
    );
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1000 / n;
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
}
