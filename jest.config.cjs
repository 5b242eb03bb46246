/** Tests run against the TypeScript sources (no build needed), transpiled by swc. */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/packages", "<rootDir>/examples", "<rootDir>/test"],
  testMatch: ["**/test/**/*.test.ts"],
  testPathIgnorePatterns: ["/node_modules/", "/dist/"],
  transform: {
    "^.+\\.(t|m?j)s$": [
      "@swc/jest",
      { jsc: { parser: { syntax: "typescript" }, target: "es2022" }, module: { type: "commonjs" } },
    ],
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
    "^(\\.{1,2}/.*)\\.js$": "$1",
  },
  testTimeout: 30000,
};
