import { defineConfig } from "tsup";

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
    // The node host (`processes: shared`, node-host.ts) is a second entry: spawned by `start`.
    entry: { bin: "src/bin.ts", "node-host": "src/node-host-bin.ts" },
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
]);
