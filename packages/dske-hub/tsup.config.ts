import { defineConfig } from "tsup";
import { nodeProgram } from "../../scripts/tsup-node-program.mjs";

export default defineConfig([
  {
    entry: ["src/index.ts"],
    format: ["esm", "cjs"],
    dts: true,
    sourcemap: true,
    clean: false,
    target: "node20",
  },
  // The bin (dist/server.js, package.json "bin") and the test-only server with fault injection
  // (dist/test-server.js, left out of the package by "files"): each one file with every module it
  // runs inlined (scripts/tsup-node-program.mjs says why), so the bin cannot contain the test code.
  nodeProgram({ server: "src/bin/server.ts", "test-server": "src/testing/test-server.ts" }),
]);
