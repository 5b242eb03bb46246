/**
 * Package metadata: every package.json of the repository (root, packages, examples) names the
 * repository, its home page and where to report bugs; every package under packages/ ships the MIT
 * LICENSE (also at the root) and lists it in `files`; the CLI ships no unused build output.
 * Reads the files only (no build, no network): test/publish/pack.test.ts packs and installs them.
 */
import fs from "node:fs";
import path from "node:path";

const REPO = path.resolve(__dirname, "../..");
const URL = "https://github.com/dske-project/dske";

interface PackageJson {
  name: string;
  private?: boolean;
  license?: string;
  repository?: { type?: string; url?: string; directory?: string };
  homepage?: string;
  bugs?: { url?: string };
  files?: string[];
  bin?: Record<string, string>;
}

const read = (dir: string): PackageJson => JSON.parse(fs.readFileSync(path.join(REPO, dir, "package.json"), "utf8")) as PackageJson;
const under = (parent: string): string[] =>
  fs
    .readdirSync(path.join(REPO, parent))
    .map((d) => path.posix.join(parent, d))
    .filter((d) => fs.existsSync(path.join(REPO, d, "package.json")));
const PACKAGES = under("packages");
const ALL = ["", ...PACKAGES, ...under("examples")];

test("the repository has packages and examples to check", () => {
  expect(PACKAGES.length).toBeGreaterThanOrEqual(9);
  expect(ALL.length).toBeGreaterThan(PACKAGES.length + 1);
});

test.each(ALL.map((d) => [d === "" ? "(root)" : d, d] as const))("%s: repository, homepage and bugs", (_label, dir) => {
  const j = read(dir);
  expect(j.repository).toEqual({ type: "git", url: `git+${URL}.git`, ...(dir === "" ? {} : { directory: dir }) });
  expect(j.homepage).toBe(dir === "" ? `${URL}#readme` : `${URL}/tree/main/${dir}#readme`);
  expect(j.bugs).toEqual({ url: `${URL}/issues` });
  expect(j.license).toBe("MIT");
});

const LICENSE_TEXT = fs.readFileSync(path.join(REPO, "LICENSE"), "utf8");

test("the root LICENSE is the MIT license of the dske authors", () => {
  expect(LICENSE_TEXT.split("\n")[0]).toBe("MIT License");
  expect(LICENSE_TEXT).toContain("Copyright (c) 2026 the dske authors");
  expect(LICENSE_TEXT).toContain('THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND');
});

test.each(PACKAGES.map((d) => [d] as const))("%s: ships the LICENSE (same text), listed in files", (dir) => {
  const j = read(dir);
  expect(j.private).not.toBe(true);
  expect(fs.readFileSync(path.join(REPO, dir, "LICENSE"), "utf8")).toBe(LICENSE_TEXT);
  expect(j.files).toContain("LICENSE");
});

test("@dske/cli: its one bin and the node host it spawns are ESM (dist/bin.js, dist/node-host.js); no CommonJS twin of them", () => {
  const j = read("packages/dske-cli");
  expect(j.bin).toEqual({ "dske-cli": "./dist/bin.js" });
  const config = fs.readFileSync(path.join(REPO, "packages/dske-cli/tsup.config.ts"), "utf8");
  // The bin (split in chunks) and the node host are bundled ESM programs (scripts/tsup-node-program.mjs);
  // only the library entry has format cjs.
  expect(config).toContain('{ ...nodeProgram({ bin: "src/bin.ts" }), splitting: true }');
  expect(config).toContain('nodeProgram({ "node-host": "src/node-host-bin.ts" })');
  const program = fs.readFileSync(path.join(REPO, "scripts/tsup-node-program.mjs"), "utf8");
  expect(program.match(/format: \[[^\]]*\]/g)).toEqual(['format: ["esm"]']);
  expect(config.match(/"cjs"/g)).toHaveLength(1);
  // When built, dist holds no bin.cjs or node-host.cjs (nor their declarations).
  const dist = path.join(REPO, "packages/dske-cli/dist");
  if (fs.existsSync(dist)) expect(fs.readdirSync(dist).filter((f) => /^(bin|node-host)\.(cjs|d\.c?ts)/.test(f))).toEqual([]);
});
