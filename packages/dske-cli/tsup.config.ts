import { defineConfig } from "tsup";
import { nodeProgram } from "../../scripts/tsup-node-program.mjs";

export default defineConfig([
  {
    // The library: ESM and CJS, with declarations.
    entry: { index: "src/index.ts" },
    format: ["esm", "cjs"],
    dts: true,
    sourcemap: true,
    clean: false,
    // why: node-command.ts resolves the server packages with createRequire(import.meta.url).
    shims: true,
    target: "node20",
  },
  // The bin (package.json "bin": dist/bin.js): every module it runs inlined like the node host's
  // (scripts/tsup-node-program.mjs says why), split in chunks: bin.ts loads cli.ts (and zod, yaml,
  // ...) with import() after it spawned the standby node host (standby-host.ts); in one file those
  // imports would load first. Inlined, a `dske-cli status` took 0.36 CPU-s instead of 0.48
  // (farm-bench -n 15, 2026-12-05): Node no longer resolves and reads each of its modules.
  { ...nodeProgram({ bin: "src/bin.ts" }), splitting: true },
  // The node host (`processes: shared`, node-host.ts), spawned by `start`: one file with every module
  // it runs inlined (scripts/tsup-node-program.mjs says why); its load is on the critical path of
  // `dske-cli start`, which hands it the nodes once it has loaded.
  nodeProgram({ "node-host": "src/node-host-bin.ts" }),
]);
