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
  // The bin stays at dist/server.js (package.json "bin"; dske-cli spawns it by that path): one file
  // with every module it runs inlined (scripts/tsup-node-program.mjs says why).
  nodeProgram({ server: "src/bin/server.ts" }),
]);
