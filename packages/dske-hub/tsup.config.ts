import { defineConfig } from "tsup";

export default defineConfig([
  {
    entry: ["src/index.ts"],
    format: ["esm", "cjs"],
    dts: true,
    sourcemap: true,
    clean: false,
    target: "node20",
  },
  {
    // The bin (dist/server.js, package.json "bin") and the test-only server with fault injection
    // (dist/test-server.js, left out of the package by "files"): ESM with a shebang, each bundled
    // on its own, so the bin cannot contain the test code.
    entry: { server: "src/bin/server.ts", "test-server": "src/testing/test-server.ts" },
    format: ["esm"],
    dts: false,
    sourcemap: true,
    clean: false,
    splitting: false,
    target: "node20",
    banner: { js: "#!/usr/bin/env node" },
  },
]);
