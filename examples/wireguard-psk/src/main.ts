/**
 * Run it: `sudo pnpm --filter @dske/example-wireguard-psk start [ROTATIONS] [INTERVAL_S]` (after
 * `pnpm -r build`; root, and wireguard-go, wireguard-tools and iputils-ping installed).
 * Builds the two hosts and the topology, starts the agents, and for each rotation shows the key
 * ID, a short fingerprint (first 8 hex digits of SHA-256) of the preshared key on each end, and a
 * ping through the tunnel. Stops and removes everything at the end, also on Ctrl-C.
 */
import { WireguardPskDemo } from "./demo.js";
import { NO_PSK_HASH, type PskHash } from "./wg-hosts.js";

const rotations = Number(process.argv[2] ?? 3);
const intervalSeconds = Number(process.argv[3] ?? 5);
if (!Number.isInteger(rotations) || rotations < 1 || !(intervalSeconds >= 1)) {
  console.error("usage: start [ROTATIONS (integer >= 1, default 3)] [INTERVAL_S (>= 1, default 5)]");
  process.exit(2);
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (state.interrupted) throw new Error(`interrupted while waiting for ${what}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const state = { interrupted: false };
process.once("SIGINT", () => {
  state.interrupted = true;
});
const demo = await WireguardPskDemo.start({ intervalSeconds, onLine: (src, l) => src === "dske-cli" && console.log(`  ${l}`) });
try {
  const h = demo.hosts;
  console.log(`host A: ${h.iface.a} in ${h.ns("a")}; host B: ${h.iface.b} in ${h.ns("b")}; KMEs at ${h.gateway}`);
  const seen: PskHash[] = [NO_PSK_HASH];
  for (let i = 1; i <= rotations && !state.interrupted; i++) {
    const psk = await until(`rotation ${i}`, intervalSeconds * 1000 + 30_000, async () => {
      const [a, b] = [await h.pskHash("a"), await h.pskHash("b")];
      return a === b && !seen.includes(a) ? a : undefined;
    });
    seen.push(psk);
    await until("a ping through the tunnel", 15_000, async () => ((await h.ping("a")) ? true : undefined));
    const keyId = demo.master?.rotations().at(-1)?.key_ID ?? "?";
    console.log(
      `rotation ${i}: key ${keyId}: PSK ${psk.slice(0, 8)} on A = ${psk.slice(0, 8)} on B, new; ping A -> B through the tunnel: ok`,
    );
  }
} finally {
  await demo.stop();
  console.log("stopped: agents, topology, wireguard-go, namespaces");
}
