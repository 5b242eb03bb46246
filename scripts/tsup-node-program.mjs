// tsup options for a Node program bundled into one file: the node host of @dske/cli and the bins
// of @dske/hub and @dske/client (their tsup.config.ts use it). The dske-cli bin uses it too, with
// `splitting: true` (a few chunks, so that `start` spawns the standby host before loading the rest).
//
// Why one file: a node process loads several hundred modules (@dske/*, express, zod, pino,
// prom-client, pg, ...). Node resolves, stats and reads each of them (about 3,000 stat calls);
// from one file it reads one. Measured on the node host: ready in about 360 ms instead of 490 ms
// (`node dist/node-host.js --standby </dev/null`, which loads everything and exits), and the first
// `dske-cli start` of the default topology about 130 ms sooner (16 alternating pairs).
//
// What stays out of the bundle:
// - pg-native: pg loads it only when asked for its native binding, which nothing here does.
// - swagger-ui-dist's files: it finds them from its own `__dirname`, which a bundle does not keep,
//   so `swagger-ui-dist/absolute-path.js` is loaded at run time from where @dske/server (a
//   dependency of every package that uses this) resolves it, as the unbundled @dske/server does.
// CommonJS modules inside get a `require` (createRequire) for Node's own modules.

/** @type {import("esbuild").Plugin} */
const swaggerUiFromServer = {
  name: "swagger-ui-from-server",
  setup(build) {
    build.onResolve({ filter: /^swagger-ui-dist\/absolute-path\.js$/ }, () => ({
      path: "swagger-ui-dist",
      namespace: "swagger-ui-from-server",
    }));
    build.onLoad({ filter: /.*/, namespace: "swagger-ui-from-server" }, () => ({
      contents: [
        'import { createRequire } from "node:module";',
        'export default createRequire(import.meta.resolve("@dske/server"))("swagger-ui-dist/absolute-path.js");',
      ].join("\n"),
      loader: "js",
    }));
  },
};

/**
 * @param {Record<string, string>} entry tsup entries (output name -> source file)
 * @returns {import("tsup").Options}
 */
export function nodeProgram(entry) {
  return {
    entry,
    format: ["esm"],
    dts: false,
    sourcemap: true,
    clean: false,
    splitting: false,
    noExternal: [/.*/],
    external: ["pg-native"],
    esbuildPlugins: [swaggerUiFromServer],
    platform: "node",
    target: "node20",
    banner: {
      js: [
        "#!/usr/bin/env node",
        'import { createRequire as __dskeCreateRequire } from "node:module";',
        "const require = __dskeCreateRequire(import.meta.url);",
      ].join("\n"),
    },
  };
}
