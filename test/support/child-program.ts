/**
 * Test children written in TypeScript, run as plain Node programs.
 *
 * A child spawned as `node --import tsx child.ts` spends about a second of CPU in tsx's loader
 * (its hooks thread, esbuild's service, the transform of every file) before it runs a line; the
 * suite spawns dozens (the PSRD crash test alone twenty), on a machine that is CPU-bound while it
 * runs. Instead, `childProgram(entry)` bundles the entry and the files it imports relatively with
 * esbuild (the bundler tsup uses) once per jest worker and entry, and returns the bundle's path:
 * `spawn(process.execPath, [childProgram(entry), ...args])`.
 *
 * Packages stay external and resolve as they did under tsx (from node_modules: the workspace
 * packages' built dist), so the bundle is written beside the entry, in `.child-build/` (ignored
 * by git): one file per entry, replaced atomically by each worker's fresh build (the same source
 * gives the same bundle), never read from an earlier run.
 */
import { buildSync } from "esbuild";
import { mkdirSync, renameSync } from "node:fs";
import path from "node:path";

const ROOT = path.resolve(__dirname, "../..");
const built = new Map<string, string>();

/** `entry`: a TypeScript file, relative to the repository root or absolute. Returns the bundle's absolute path. */
export function childProgram(entry: string): string {
  const source = path.resolve(ROOT, entry);
  let out = built.get(source);
  if (out !== undefined) return out;
  const dir = path.join(path.dirname(source), ".child-build");
  mkdirSync(dir, { recursive: true });
  out = path.join(dir, `${path.basename(source, ".ts")}.mjs`);
  const tmp = `${out}.${process.pid}.tmp`;
  buildSync({
    entryPoints: [source],
    outfile: tmp,
    bundle: true,
    packages: "external",
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: "inline",
    logLevel: "error",
  });
  renameSync(tmp, out);
  built.set(source, out);
  return out;
}
