import { defineConfig } from "tsup";

export default defineConfig({
  entry: { index: "src/index.ts", bin: "src/bin.ts" },
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  // why: node-command.ts resolves the server packages with createRequire(import.meta.url).
  shims: true,
  target: "node20",
  // The shebang makes dist/bin.js directly executable; it is harmless in the library files.
  banner: { js: "#!/usr/bin/env node" },
});
