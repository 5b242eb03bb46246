/**
 * Publishability: pack every publishable package with pnpm, install the tarballs with npm into a
 * fresh project outside the workspace, and use them there the way a consumer would (ESM import,
 * CJS require, TypeScript declarations, the bins).
 *
 * Builds nothing itself: it needs the packages' dist/ folders (`pnpm -r build` first; scripts/test.sh
 * does that through scripts/setup.sh). Needs the npm registry for third-party dependencies
 * (express, zod, ...); `--prefer-offline` keeps a warm npm cache fast.
 */
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import fs from "node:fs";
import { builtinModules } from "node:module";
import os from "node:os";
import path from "node:path";

const REPO = path.resolve(__dirname, "../..");
const TSC = path.join(REPO, "node_modules", "typescript", "bin", "tsc");
const GF128_VECTORS = path.join(REPO, "packages", "dske-auth", "test", "fixtures", "gf128-vectors.json");

interface PackageJson {
  name: string;
  version: string;
  private?: boolean;
  description?: string;
  license?: string;
  keywords?: string[];
  type?: string;
  main?: string;
  module?: string;
  types?: string;
  bin?: Record<string, string>;
  files?: string[];
  exports?: Record<string, unknown>;
  engines?: Record<string, string>;
  publishConfig?: { access?: string };
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

interface Pkg {
  dir: string;
  json: PackageJson;
  /** `pnpm pack` file name: `@dske/hub@0.1.0` → `dske-hub-0.1.0.tgz`. */
  tarball: string;
}

const readJson = (file: string): unknown => JSON.parse(fs.readFileSync(file, "utf8"));

/** Every non-private package under packages/. */
function publishablePackages(): Pkg[] {
  const root = path.join(REPO, "packages");
  return fs
    .readdirSync(root)
    .filter((d) => fs.existsSync(path.join(root, d, "package.json")))
    .map((d) => {
      const json = readJson(path.join(root, d, "package.json")) as PackageJson;
      const tarball = `${json.name.replace(/^@/, "").replace("/", "-")}-${json.version}.tgz`;
      return { dir: path.join(root, d), json, tarball };
    })
    .filter((p) => p.json.private !== true)
    .sort((a, b) => a.json.name.localeCompare(b.json.name));
}

/** Without the variables pnpm sets for scripts (npm_package_*, npm_lifecycle_*, ...), which npm would misread. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    const keep = !/^npm_/i.test(k) || /^npm_config_(registry|cache|.*proxy|strict_ssl|cafile)$/i.test(k);
    if (keep && !/^PNPM_/i.test(k)) env[k] = v;
  }
  env.NO_COLOR = "1";
  env.npm_config_update_notifier = "false";
  return env;
}

function run(cmd: string, args: string[], cwd: string, timeoutMs = 120_000): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, env: childEnv(), encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`${cmd} ${args.join(" ")}: ${r.error.message}`);
  return r;
}

function runOk(cmd: string, args: string[], cwd: string, timeoutMs?: number): string {
  const r = run(cmd, args, cwd, timeoutMs);
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} exited ${String(r.status)}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  }
  return r.stdout;
}

/** Bare module specifiers (import/export from, dynamic import, require) of a built JS file, as package names. */
function importedPackages(code: string): Set<string> {
  const names = new Set<string>();
  // A specifier has no whitespace or comma: `option: "--x-from", hint: "..."` is no import. It ends
  // its statement or call (`;`, `)`, end of line): words quoted inside a message in a bundled
  // dependency (`'import "reflect-metadata"' to the top`, `from 'alg' argument`) are no import.
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)["']([^"'./\s,][^"'\s,]*)["'](?=\s*[;)]|[ \t]*$)/gm;
  for (const m of code.matchAll(re)) {
    const spec = m[1];
    if (spec.startsWith("node:") || builtinModules.includes(spec.split("/")[0])) continue;
    const parts = spec.split("/");
    names.add(spec.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]);
  }
  return names;
}

/** The checks shared by the ESM and the CJS consumer script; `m` holds the nine modules. */
const CONSUMER_BODY = String.raw`
const assert = require_("node:assert/strict");
const crypto = require_("node:crypto");
const fs = require_("node:fs");
const os = require_("node:os");
const path = require_("node:path");
const hex = (b) => Buffer.from(b).toString("hex");
const fromHex = (h) => new Uint8Array(Buffer.from(h, "hex"));

async function check(m) {
  const result = {};

  // @dske/sss: split / combine round trip, plain and robust.
  const secret = crypto.randomBytes(32);
  const shares = m.sss.split(new Uint8Array(secret), 5, 3);
  assert.equal(shares.length, 5);
  result.sssPlain = hex(m.sss.combine(shares.slice(1, 4))) === hex(secret);
  result.sssRobust = hex(m.sss.combine(shares, 3)) === hex(secret);
  assert.throws(() => m.sss.split(new Uint8Array(0), 3, 2), m.sss.SssError);

  // @dske/psrd: MemoryStore pool, add a block, allocate from it.
  const store = new m.psrd.MemoryStore();
  const pool = await store.openPool("consumer-pool", "local");
  const block = crypto.randomBytes(100);
  const uuid = crypto.randomUUID();
  await pool.addBlock(uuid, new Uint8Array(block));
  const { allocation, data } = await pool.allocate(10, "consumer test");
  result.psrdAllocated = hex(data) === hex(block.subarray(0, 10));
  result.psrdAvailable = pool.stats().available;
  result.psrdAllocation = m.psrd.formatAllocation(m.psrd.parseAllocation(m.psrd.formatAllocation(allocation))) === m.psrd.formatAllocation(allocation);
  await store.close();

  // @dske/auth: GF(2^128) multiplication on the draft's vectors; the default scheme.
  const vectors = JSON.parse(fs.readFileSync(path.join(process.cwd(), "gf128-mul.json"), "utf8"));
  result.gf128Vectors = vectors.length;
  result.gf128Ok = vectors.filter((v) => hex(m.auth.gf128.mul(fromHex(v.a.bytes_le_hex), fromHex(v.b.bytes_le_hex))) === v.product.bytes_le_hex).length;
  result.defaultAuthScheme = m.auth.DEFAULT_AUTH_SCHEME;
  assert.equal(typeof m.auth.createSignatureMiddleware, "function");

  // @dske/distributor: a chain of two bundles opens in order; a flipped tag bit is refused.
  const d = m.distributor;
  const rnd = (n) => new Uint8Array(crypto.randomBytes(n));
  const newBlock = (n) => ({ block_uuid: crypto.randomUUID(), pool_owner: n % 2 ? "hub" : "client", key_prefix: 16, data: rnd(64) });
  const blk1 = newBlock(1);
  const blk2 = newBlock(2);
  const b1 = d.sealBundle({ hub_name: "hank", client_name: "curtis", seq: 1, auth_scheme: "gf128", blocks: [blk1], nextChainKey: d.newChainKey(rnd) });
  const o1 = d.openBundle(b1, { clientName: "curtis", hubName: "hank", expectedSeq: 1 });
  const b2 = d.sealBundle({ hub_name: "hank", client_name: "curtis", seq: 2, auth_scheme: "gf128", blocks: [blk2], chainKey: o1.nextChainKey, nextChainKey: d.newChainKey(rnd) });
  const o2 = d.openBundle(b2, { clientName: "curtis", hubName: "hank", expectedSeq: 2, chainKey: o1.nextChainKey });
  result.distributorRoundTrip = hex(o1.blocks[0].data) === hex(blk1.data) && hex(o2.blocks[0].data) === hex(blk2.data);
  b2[b2.length - 1] ^= 1;
  try {
    d.openBundle(b2, { clientName: "curtis", expectedSeq: 2, chainKey: o1.nextChainKey });
    result.distributorTamper = "accepted";
  } catch (e) {
    result.distributorTamper = e instanceof d.BundleError ? e.code : String(e);
  }

  // @dske/protocol: a wire schema parses; the typed hub client is there; no server stack is loaded with it.
  result.protocolParse = m.protocol.RegistrationRequestSchema.safeParse({ client_name: "curtis", encryptor_names: ["sam"] }).success;
  result.protocolRejects = m.protocol.RegistrationRequestSchema.safeParse({ client_name: "" }).success;
  result.protocolHubApi = typeof m.protocol.HubApi;

  // @dske/server: a per-node Prometheus registry.
  const nodeMetrics = new m.server.NodeMetrics({ kind: "hub", name: "hank" });
  result.serverMetrics = (await nodeMetrics.registry.metrics()).includes("dske_http_requests_total");

  // @dske/hub: the router factory; a real standalone hub (express + FileStore) on port 0.
  assert.equal(typeof m.hub.createHubRouter, "function");
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "dske-consumer-hub-"));
  const hub = await m.hub.startHubServer(
    { name: "hank", port: 0, host: "127.0.0.1", shareTimeoutSecs: 60, stateDir, authSchemes: ["gf128"], psrdAuditLog: path.join(stateDir, "audit.jsonl"), operatorToken: "consumer-operator-token-0123456789" },
    { log: () => {} },
  );
  try {
    result.hubStatusWithoutToken = (await fetch(hub.url + "/hub/hank/mgmt/v1/status")).status;
    const status = await fetch(hub.url + "/hub/hank/mgmt/v1/status", { headers: { Authorization: "Bearer consumer-operator-token-0123456789" } });
    result.hubStatus = status.status;
    const bad = await fetch(hub.url + "/hub/hank/dske/oob/v1/psrd");
    result.hubBadRequest = bad.status;
    result.hubBadRequestHasMessage = typeof (await bad.json()).message === "string";
  } finally {
    await hub.stop();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }

  // @dske/client: the router factory and the domain class.
  result.clientRouter = typeof m.client.createClientRouter;
  result.clientClass = typeof m.client.Client;

  // @dske/cli: runCli --help into a captured output; the server scripts it spawns resolve to the installed packages.
  const out = new m.cli.CapturedOutput();
  result.cliHelpCode = await m.cli.runCli(["--help"], { out });
  result.cliHelp = out.stdout;
  result.hubScript = m.cli.defaultServerScript("hub");
  result.clientScript = m.cli.defaultServerScript("client");
  result.hubScriptExists = fs.existsSync(result.hubScript);
  result.clientScriptExists = fs.existsSync(result.clientScript);

  process.stdout.write("RESULT " + JSON.stringify(result) + "\n");
}
`;

const ESM_SCRIPT = `import { createRequire } from "node:module";
import * as sss from "@dske/sss";
import * as psrd from "@dske/psrd";
import * as auth from "@dske/auth";
import * as hub from "@dske/hub";
import * as client from "@dske/client";
import * as cli from "@dske/cli";
import * as distributor from "@dske/distributor";
import * as protocol from "@dske/protocol";
import * as server from "@dske/server";
const require_ = createRequire(import.meta.url);
${CONSUMER_BODY}
await check({ sss, psrd, auth, hub, client, cli, distributor, protocol, server });
`;

const CJS_SCRIPT = `"use strict";
const require_ = require;
const m = {
  sss: require("@dske/sss"),
  psrd: require("@dske/psrd"),
  auth: require("@dske/auth"),
  hub: require("@dske/hub"),
  client: require("@dske/client"),
  cli: require("@dske/cli"),
  distributor: require("@dske/distributor"),
  protocol: require("@dske/protocol"),
  server: require("@dske/server"),
};
${CONSUMER_BODY}
check(m).catch((err) => { console.error(err); process.exitCode = 1; });
`;

/** Type-level use of the public API, compiled against the installed .d.ts / .d.cts (nodenext, no skipLibCheck). */
const TS_BODY = `
const shares: Share[] = split(new Uint8Array([1, 2, 3]), 3, 2);
const secret: Uint8Array = combine(shares);
const store: PsrdStore = new MemoryStore();
const product: Uint8Array = gf128.mul(gf128.one(), gf128.one());
const scheme: AuthSchemeName = DEFAULT_AUTH_SCHEME;
const hubRouter: (options: HubRouterOptions) => HubRouter = createHubRouter;
const clientRouter: typeof createClientRouter = createClientRouter;
const exitCode: Promise<number> = runCli(["--help"], { out: new CapturedOutput() });
const opener: (bytes: Uint8Array, options: OpenBundleOptions) => OpenedBundle = openBundle;
const bundleCode: BundleErrorCode = "bad_tag";
export { secret, store, product, scheme, hubRouter, clientRouter, exitCode, opener, bundleCode };
`;
const TS_IMPORTS = `
import { split, combine, type Share } from "@dske/sss";
import { MemoryStore, type PsrdStore } from "@dske/psrd";
import { gf128, DEFAULT_AUTH_SCHEME, type AuthSchemeName } from "@dske/auth";
import { createHubRouter, type HubRouter, type HubRouterOptions } from "@dske/hub";
import { createClientRouter } from "@dske/client";
import { runCli, CapturedOutput } from "@dske/cli";
import { openBundle, type BundleErrorCode, type OpenBundleOptions, type OpenedBundle } from "@dske/distributor";
`;

function parseResult(stdout: string): Record<string, unknown> {
  const line = stdout.split("\n").find((l) => l.startsWith("RESULT "));
  if (line === undefined) throw new Error(`no RESULT line in:\n${stdout}`);
  return JSON.parse(line.slice("RESULT ".length)) as Record<string, unknown>;
}

describe("publishable packages (pnpm pack → npm install outside the workspace)", () => {
  const pkgs = publishablePackages();
  const names = pkgs.map((p) => p.json.name);
  const versions = new Map(pkgs.map((p) => [p.json.name, p.json.version]));
  let tmp = "";
  let tgzDir = "";
  let project = "";
  const gf128Count = (readJson(GF128_VECTORS) as { gf128_mul: unknown[] }).gf128_mul.length;

  beforeAll(() => {
    const missing = pkgs.flatMap((p) =>
      ["dist/index.js", "dist/index.cjs", "dist/index.d.ts", "dist/index.d.cts", ...Object.values(p.json.bin ?? {})]
        .filter((f) => !fs.existsSync(path.join(p.dir, f)))
        .map((f) => `${path.relative(REPO, p.dir)}/${f.replace(/^\.\//, "")}`),
    );
    if (missing.length > 0) {
      throw new Error(`built files missing (${missing.join(", ")}): run pnpm -r build first`);
    }

    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dske-publish-"));
    tgzDir = path.join(tmp, "tarballs");
    project = path.join(tmp, "consumer");
    fs.mkdirSync(project);

    const filters = names.flatMap((n) => ["--filter", n]);
    runOk("pnpm", ["-r", ...filters, "pack", "--pack-destination", tgzDir], REPO);

    fs.writeFileSync(
      path.join(project, "package.json"),
      JSON.stringify({ name: "dske-consumer", version: "1.0.0", private: true, description: "publish test", license: "MIT" }, null, 2),
    );
    fs.writeFileSync(path.join(project, "gf128-mul.json"), JSON.stringify((readJson(GF128_VECTORS) as { gf128_mul: unknown[] }).gf128_mul));
    const tarballs = pkgs.map((p) => path.join(tgzDir, p.tarball));
    runOk(
      "npm",
      ["install", "--no-audit", "--no-fund", "--ignore-scripts", "--prefer-offline", "--loglevel=error", ...tarballs],
      project,
      150_000,
    );
  }, 180_000);

  afterAll(() => {
    if (tmp !== "") fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("has a changesets config that publishes publicly and leaves the private packages alone", () => {
    const config = readJson(path.join(REPO, ".changeset", "config.json")) as { access?: string; privatePackages?: { version?: boolean } };
    expect(config.access).toBe("public");
    expect(config.privatePackages?.version).toBe(false);
  });

  it("finds the ten packages, outside the workspace", () => {
    expect(names).toEqual([
      "@dske/auth",
      "@dske/cli",
      "@dske/client",
      "@dske/distributor",
      "@dske/hub",
      "@dske/postgres",
      "@dske/protocol",
      "@dske/psrd",
      "@dske/server",
      "@dske/sss",
    ]);
    expect(path.relative(REPO, project).startsWith("..")).toBe(true);
  });

  it.each(publishablePackages().map((p) => [p.json.name, p] as const))("%s: package.json is complete", (_name, p) => {
    const j = p.json;
    expect(j.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(j.description?.length).toBeGreaterThan(10);
    expect(j.license).toBe("MIT");
    expect(j.keywords?.length).toBeGreaterThan(0);
    expect(j.type).toBe("module");
    expect(j).toMatchObject({ main: "./dist/index.cjs", module: "./dist/index.js", types: "./dist/index.d.ts" });
    // @dske/postgres also exports its test harness (a throwaway PostgreSQL cluster) as ./testing.
    const testing =
      j.name === "@dske/postgres"
        ? {
            "./testing": {
              import: { types: "./dist/testing.d.ts", default: "./dist/testing.js" },
              require: { types: "./dist/testing.d.cts", default: "./dist/testing.cjs" },
            },
          }
        : {};
    expect(j.exports).toEqual({
      ".": {
        import: { types: "./dist/index.d.ts", default: "./dist/index.js" },
        require: { types: "./dist/index.d.cts", default: "./dist/index.cjs" },
      },
      ...testing,
      "./package.json": "./package.json",
    });
    // @dske/hub leaves out its test-only server (dist/test-server.js: the hub with fault injection).
    expect(j.files).toEqual(
      j.name === "@dske/hub" ? ["dist", "!dist/test-server.*", "README.md", "LICENSE"] : ["dist", "README.md", "LICENSE"],
    );
    expect(fs.existsSync(path.join(p.dir, "README.md"))).toBe(true);
    expect(j.engines).toEqual({ node: ">=20.18.1" });
    expect(j.publishConfig).toEqual({ access: "public" });
  });

  it("the import scanner used below finds bare package imports and skips builtins and relative paths", () => {
    const code = `import{a}from"zod";import x from 'express';export * from "./local.js";
      const y = require("@scope/pkg/sub"); await import("node:fs"); require("path"); import "side-effect/x";
      const flags = { option: "--clients-from",
        hint: "a list" };
      throw new Error(\`add 'import "reflect-metadata"' to the top\`); throw new Error("Cannot get 'saltLength' from 'alg' argument");
      export { b } from "multi-line"
      `;
    expect([...importedPackages(code)].sort()).toEqual(["@scope/pkg", "express", "multi-line", "side-effect", "zod"]);
  });

  it.each(publishablePackages().map((p) => [p.json.name, p] as const))(
    "%s: every package the built JS imports is a (peer) dependency, not a devDependency",
    (_name, p) => {
      const declared = new Set([
        ...Object.keys(p.json.dependencies ?? {}),
        ...Object.keys(p.json.peerDependencies ?? {}),
        ...Object.keys(p.json.optionalDependencies ?? {}),
      ]);
      const dist = path.join(p.dir, "dist");
      const jsFiles = fs.readdirSync(dist).filter((f) => /\.(c|m)?js$/.test(f));
      expect(jsFiles.length).toBeGreaterThanOrEqual(2);
      const imported = new Set<string>();
      for (const f of jsFiles) {
        for (const n of importedPackages(fs.readFileSync(path.join(dist, f), "utf8"))) imported.add(n);
      }
      expect([...imported].filter((n) => !declared.has(n))).toEqual([]);
    },
  );

  it("keeps the layers apart: the client never depends on the hub, the protocol loads no server stack", () => {
    const byName = new Map(pkgs.map((p) => [p.json.name, p]));
    const client = byName.get("@dske/client");
    const protocol = byName.get("@dske/protocol");
    if (client === undefined || protocol === undefined) throw new Error("@dske/client or @dske/protocol not found");
    expect(Object.keys(client.json.dependencies ?? {})).not.toContain("@dske/hub");
    const builtImports = (dir: string) => {
      const found = new Set<string>();
      for (const f of fs.readdirSync(path.join(dir, "dist")).filter((n) => /\.(c|m)?js$/.test(n))) {
        for (const n of importedPackages(fs.readFileSync(path.join(dir, "dist", f), "utf8"))) found.add(n);
      }
      return [...found];
    };
    expect(builtImports(client.dir)).not.toContain("@dske/hub");
    // Positive control: the scanner does see the server stack where it is.
    const server = byName.get("@dske/server");
    if (server === undefined) throw new Error("@dske/server not found");
    expect(builtImports(server.dir)).toEqual(expect.arrayContaining(["express", "pino", "prom-client"]));
    const protocolImports = builtImports(protocol.dir);
    for (const stack of ["express", "pino", "prom-client", "swagger-ui-dist", "axios", "@dske/server", "@dske/hub"]) {
      expect(protocolImports).not.toContain(stack);
    }
  });

  it("packs one tarball per publishable package (no root, no private example)", () => {
    expect(fs.readdirSync(tgzDir).sort()).toEqual(pkgs.map((p) => p.tarball).sort());
  });

  it.each(publishablePackages().map((p) => [p.json.name, p] as const))(
    "%s: the tarball holds dist + README + LICENSE + package.json, with workspace:* replaced by versions",
    (_name, p) => {
      const tgz = path.join(tgzDir, p.tarball);
      const files = runOk("tar", ["-tzf", tgz], tmp).trim().split("\n");
      expect(files).toContain("package/package.json");
      expect(files).toContain("package/README.md");
      expect(files).toContain("package/LICENSE");
      expect(files).toContain("package/dist/index.js");
      expect(files.filter((f) => !/^package\/(package\.json|README\.md|LICENSE|dist\/.+)$/.test(f))).toEqual([]);

      const packed = JSON.parse(runOk("tar", ["-xzOf", tgz, "package/package.json"], tmp)) as PackageJson;
      expect(packed.name).toBe(p.json.name);
      const deps = { ...packed.dependencies, ...packed.peerDependencies, ...packed.optionalDependencies };
      expect(Object.values(deps).filter((v) => v.startsWith("workspace:"))).toEqual([]);
      for (const [dep, range] of Object.entries(p.json.dependencies ?? {})) {
        if (range.startsWith("workspace:")) expect(deps[dep]).toBe(versions.get(dep));
        else expect(deps[dep]).toBe(range);
      }
    },
  );

  it("@dske/hub: the test-only fault injection is neither in the tarball nor in its entry or bin", () => {
    const p = pkgs.find((x) => x.json.name === "@dske/hub");
    if (!p) throw new Error("@dske/hub is not among the publishable packages");
    const tgz = path.join(tgzDir, p.tarball);
    const files = runOk("tar", ["-tzf", tgz], tmp).trim().split("\n");
    expect(files).toContain("package/dist/server.js");
    expect(files.filter((f) => f.includes("test-server"))).toEqual([]);
    for (const f of ["dist/index.js", "dist/index.cjs", "dist/server.js"]) {
      expect(runOk("tar", ["-xzOf", tgz, `package/${f}`], tmp)).not.toContain("DSKE_TEST_FAULTS");
    }
  });

  it("installs every tarball with npm into a fresh project", () => {
    for (const p of pkgs) {
      const installed = readJson(path.join(project, "node_modules", p.json.name, "package.json")) as PackageJson;
      expect(installed.version).toBe(p.json.version);
      // Installed from the tarball, not linked back into the workspace.
      expect(fs.lstatSync(path.join(project, "node_modules", p.json.name)).isSymbolicLink()).toBe(false);
    }
  });

  const expectConsumerResult = (r: Record<string, unknown>): void => {
    expect(r).toMatchObject({
      sssPlain: true,
      sssRobust: true,
      psrdAllocated: true,
      psrdAvailable: 90,
      psrdAllocation: true,
      gf128Vectors: gf128Count,
      gf128Ok: gf128Count,
      defaultAuthScheme: "gf128",
      hubStatus: 200,
      hubStatusWithoutToken: 401,
      hubBadRequest: 400,
      hubBadRequestHasMessage: true,
      clientRouter: "function",
      clientClass: "function",
      cliHelpCode: 0,
      hubScriptExists: true,
      clientScriptExists: true,
      distributorRoundTrip: true,
      distributorTamper: "bad_tag",
      protocolParse: true,
      protocolRejects: false,
      protocolHubApi: "function",
      serverMetrics: true,
    });
    expect(gf128Count).toBeGreaterThan(0);
    expect(r.cliHelp).toEqual(expect.stringMatching(/start[\s\S]*stop[\s\S]*status[\s\S]*etsi-qkd/));
    const nm = fs.realpathSync(path.join(project, "node_modules"));
    expect(fs.realpathSync(r.hubScript as string)).toBe(path.join(nm, "@dske", "hub", "dist", "server.js"));
    expect(fs.realpathSync(r.clientScript as string)).toBe(path.join(nm, "@dske", "client", "dist", "server.js"));
  };

  it("works from an ESM consumer (import)", () => {
    fs.writeFileSync(path.join(project, "consumer.mjs"), ESM_SCRIPT);
    expectConsumerResult(parseResult(runOk("node", ["consumer.mjs"], project, 60_000)));
  });

  it("works from a CommonJS consumer (require)", () => {
    fs.writeFileSync(path.join(project, "consumer.cjs"), CJS_SCRIPT);
    expectConsumerResult(parseResult(runOk("node", ["consumer.cjs"], project, 60_000)));
  });

  it("type-checks a TypeScript consumer against the packed declarations (ESM and CJS, no skipLibCheck)", () => {
    fs.writeFileSync(path.join(project, "consumer-ts.mts"), TS_IMPORTS + TS_BODY);
    fs.writeFileSync(path.join(project, "consumer-ts.cts"), TS_IMPORTS + TS_BODY);
    fs.writeFileSync(
      path.join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2022",
          noEmit: true,
          skipLibCheck: false,
        },
        files: ["consumer-ts.mts", "consumer-ts.cts"],
      }),
    );
    const r = run("node", [TSC, "-p", "tsconfig.json"], project, 120_000);
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("runs the bins: npx dske-cli / dske-hub / dske-client --help", () => {
    const cli = run("npx", ["--no", "--", "dske-cli", "--help"], project, 60_000);
    expect(cli.status).toBe(0);
    for (const word of ["start", "stop", "status", "etsi-qkd"]) expect(cli.stdout).toContain(word);

    const hub = run("npx", ["--no", "--", "dske-hub", "--help"], project, 60_000);
    expect(hub.status).toBe(0);
    expect(hub.stdout).toMatch(/Usage: dske-hub/);
    expect(hub.stdout).toContain("--port");

    const client = run("npx", ["--no", "--", "dske-client", "--help"], project, 60_000);
    expect(client.status).toBe(0);
    expect(client.stdout).toMatch(/Usage: dske-client/);
    expect(client.stdout).toContain("--hubs");
  });

  it("the node host bundle (dist/node-host.js) loads from the installed @dske/cli: every module it inlines, and Swagger UI's files found through @dske/server", () => {
    const host = path.join(project, "node_modules", "@dske", "cli", "dist", "node-host.js");
    // A standby host that gets no handover exits 0 once it has loaded everything; a module that
    // cannot be found or evaluated makes it exit non-zero, saying which.
    const r = spawnSync(process.execPath, [host, "--standby"], { cwd: project, input: "", encoding: "utf8", timeout: 60_000 });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const text = fs.readFileSync(host, "utf8");
    expect(text).toContain('import.meta.resolve("@dske/server")');
    // Nothing outside Node's own modules is imported, nor required by the inlined CommonJS
    // modules (pg-native only on demand, which nothing here makes).
    const required = [...text.matchAll(/__require\("([^"]+)"\)/g)].map((m) => m[1]);
    expect(required.length).toBeGreaterThan(0); // the scan sees the inlined modules' requires
    const outside = [...importedPackages(text), ...required].filter(
      (n) => !n.startsWith("node:") && !builtinModules.includes(n.split("/")[0]),
    );
    expect([...new Set(outside)]).toEqual(["pg-native"]);
  });
});
