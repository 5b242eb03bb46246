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
  {
    // The bin (package.json "bin": dist/bin.js): ESM only (the package is "type": "module"), with
    // a shebang, bundled on its own; no CJS twin and no declarations (nothing imports it).
    entry: { bin: "src/bin.ts" },
    format: ["esm"],
    dts: false,
    sourcemap: true,
    clean: false,
    // Splitting: bin.ts loads cli.ts (and zod, yaml, ...) with import() after it spawned the standby
    // node host (standby-host.ts); in one file those imports would load first.
    splitting: true,
    shims: true,
    target: "node20",
    banner: { js: "#!/usr/bin/env node" },
  },
  // The node host (`processes: shared`, node-host.ts), spawned by `start`: one file with every module
  // it runs inlined (scripts/tsup-node-program.mjs says why); its load is on the critical path of
  // `dske-cli start`, which hands it the nodes once it has loaded.
  nodeProgram({ "node-host": "src/node-host-bin.ts" }),
]);
