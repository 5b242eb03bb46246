/**
 * The standalone hub's storage options: `--storage file|postgres`, the URL from DSKE_STORAGE_URL
 * (or `--storage-url`), the key files; bad values are usage errors naming the option and the fix.
 */
import path from "node:path";
import { CliUsageError, parseHubArgs } from "../src/bin/standalone";

const BASE = ["hank", "--port", "0", "--state-dir", "hank-state"];

function withEnv<T>(value: string | undefined, fn: () => T): T {
  const before = process.env.DSKE_STORAGE_URL;
  if (value === undefined) delete process.env.DSKE_STORAGE_URL;
  else process.env.DSKE_STORAGE_URL = value;
  try {
    return fn();
  } finally {
    if (before === undefined) delete process.env.DSKE_STORAGE_URL;
    else process.env.DSKE_STORAGE_URL = before;
  }
}

test("file is the default; postgres takes the URL from DSKE_STORAGE_URL and key files under the state dir", () => {
  expect(withEnv(undefined, () => parseHubArgs(BASE))).not.toHaveProperty("storage");
  const cfg = withEnv("postgresql://dske:secret@db:5432/hank", () => parseHubArgs([...BASE, "--storage", "postgres"]));
  expect(cfg.storage).toEqual({
    kind: "postgres",
    url: "postgresql://dske:secret@db:5432/hank",
    urlSource: "DSKE_STORAGE_URL",
    keyFile: path.resolve("hank-state", "storage.key"),
    psrdKeyFile: path.resolve("hank-state", "psrd.key"),
  });
  const explicit = withEnv(undefined, () =>
    parseHubArgs([
      ...BASE,
      "--storage",
      "postgres",
      "--storage-url",
      "postgres://db/hank",
      "--storage-key-file",
      "k1",
      "--psrd-key-file",
      "k2",
    ]),
  );
  expect(explicit.storage).toMatchObject({
    url: "postgres://db/hank",
    urlSource: "--storage-url",
    keyFile: path.resolve("k1"),
    psrdKeyFile: path.resolve("k2"),
  });
});

test.each([
  [undefined, ["--storage", "sqlite"], /invalid --storage "sqlite": give file \(default\) or postgres/],
  [undefined, ["--storage", "postgres"], /needs the database URL: set DSKE_STORAGE_URL=postgres:\/\//],
  ["mysql://db/hank", ["--storage", "postgres"], /invalid DSKE_STORAGE_URL: expected a URL postgres:\/\//],
  [undefined, ["--storage-url", "postgres://db/hank"], /need --storage postgres/],
])("DSKE_STORAGE_URL=%s %j: a usage error naming the fix", (env, args, message) => {
  expect(() => withEnv(env, () => parseHubArgs([...BASE, ...args]))).toThrow(CliUsageError);
  expect(() => withEnv(env, () => parseHubArgs([...BASE, ...args]))).toThrow(message);
});
