/** Tests run against the TypeScript sources (no build needed), transpiled by swc. */
const os = require("node:os");

module.exports = {
  // Jest's default (cores - 1) runs one file at a time on a 2-core machine. The suite is safe in
  // parallel (every system test file has its own port range, state lives in temporary dirs, and
  // tests wait on conditions: scripts/test-under-load.sh), and its system tests spend much of their
  // time waiting on other processes, so use one worker per core and at least three: on the 2-core
  // VM, with coverage, 529 s with two workers, 464 s with three, 461 s with four (2026-12-05).
  maxWorkers: Math.max(3, os.availableParallelism()),
  // Jest's node environment, plus each file's AsyncLocalStorages disabled at its end (the file says why).
  testEnvironment: "<rootDir>/test/support/environment.cjs",
  // Every temporary file of a run under one directory, removed at its end (test/support/temp-root.cjs).
  globalSetup: "<rootDir>/test/support/global-setup.cjs",
  globalTeardown: "<rootDir>/test/support/global-teardown.cjs",
  roots: ["<rootDir>/packages", "<rootDir>/examples", "<rootDir>/test"],
  testMatch: ["**/test/**/*.test.ts"],
  testPathIgnorePatterns: ["/node_modules/", "/dist/"],
  // Byte arrays compared by memcmp in toEqual (Jest's generic walk was a third of some packages' CPU).
  setupFilesAfterEnv: ["<rootDir>/test/support/bytes-equality.ts"],
  transform: {
    "^.+\\.(t|m?j)s$": ["@swc/jest", { jsc: { parser: { syntax: "typescript" }, target: "es2022" }, module: { type: "commonjs" } }],
  },
  moduleNameMapper: {
    "^@dske/psrd$": "<rootDir>/packages/psrd/src/index.ts",
    "^@dske/sss$": "<rootDir>/packages/sss-gf256/src/index.ts",
    "^@dske/auth$": "<rootDir>/packages/dske-auth/src/index.ts",
    "^@dske/hub$": "<rootDir>/packages/dske-hub/src/index.ts",
    "^@dske/client$": "<rootDir>/packages/dske-client/src/index.ts",
    "^@dske/cli$": "<rootDir>/packages/dske-cli/src/index.ts",
    "^@dske/distributor$": "<rootDir>/packages/dske-distributor/src/index.ts",
    "^@dske/protocol$": "<rootDir>/packages/dske-protocol/src/index.ts",
    "^@dske/server$": "<rootDir>/packages/dske-server/src/index.ts",
    "^@dske/postgres$": "<rootDir>/packages/dske-postgres/src/index.ts",
    "^@dske/postgres/testing$": "<rootDir>/packages/dske-postgres/src/testing/index.ts",
    "^(\\.{1,2}/.*)\\.js$": "$1",
  },
  // A safety net only (tests wait on conditions): generous, so a busy machine does not fail them.
  testTimeout: 120_000,
  // Coverage (scripts/test.sh runs with --coverage): V8's own counters, mapped back to the sources.
  coverageProvider: "v8",
  collectCoverageFrom: ["packages/*/src/**/*.ts", "!packages/*/src/**/*.d.ts"],
  coverageReporters: ["text-summary", "json-summary"],
  // Per package, just under the figures measured when they were set (README, Development): a
  // package whose coverage falls below its floor fails the run.
  coverageThreshold: {
    "./packages/dske-auth/src/": { lines: 90, statements: 90, functions: 85, branches: 82 },
    // dske-cli: lowered on 2026-12-04 from 94/94/94/85 to just under the fresh-clone figures
    // (90.5 / 88.4 / 85.8): the supervisor, systemd units and port-holder code added for issue 16
    // is driven by system tests through the built bin (spawned processes), which V8 coverage of
    // the jest workers does not see. Raising it back means in-process tests of those files.
    "./packages/dske-cli/src/": { lines: 90, statements: 90, functions: 88, branches: 85 },
    "./packages/dske-client/src/": { lines: 94, statements: 94, functions: 94, branches: 88 },
    "./packages/dske-distributor/src/": { lines: 95, statements: 95, functions: 96, branches: 86 },
    "./packages/dske-hub/src/": { lines: 92, statements: 92, functions: 90, branches: 87 },
    "./packages/dske-protocol/src/": { lines: 96, statements: 96, functions: 96, branches: 82 },
    "./packages/dske-server/src/": { lines: 95, statements: 95, functions: 88, branches: 86 },
    // dske-postgres: set on 2026-12-04 just under its first figures (95.8 / 83.9 / 95.7 lines /
    // branches / functions); the replica processes of its tests are not counted.
    "./packages/dske-postgres/src/": { lines: 93, statements: 93, functions: 92, branches: 80 },
    "./packages/psrd/src/": { lines: 90, statements: 90, functions: 95, branches: 89 },
    "./packages/sss-gf256/src/": { lines: 98, statements: 98, functions: 98, branches: 98 },
  },
};
