/**
 * The suite's Jest environment (test/support/environment.cjs): tearing an environment down
 * disables the AsyncLocalStorages enabled while it ran, so a worker's next test file does not
 * propagate through them. Driven on a second environment instance: its teardown is the one a
 * test file gets at its end.
 */
import { AsyncLocalStorage } from "node:async_hooks";

type Environment = { setup(): Promise<void>; teardown(): Promise<void> };
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the CommonJS module jest's config names
const DskeTestEnvironment = require("./environment.cjs") as new (config: object, context: object) => Environment;

function newEnvironment(): Environment {
  const projectConfig = { testEnvironmentOptions: {}, globals: {}, fakeTimers: {}, moduleFileExtensions: ["ts"], rootDir: __dirname };
  return new DskeTestEnvironment({ globalConfig: {}, projectConfig }, { console, docblockPragmas: {}, testPath: __filename });
}

test("a storage enabled by run() is disabled by the environment's teardown; one enabled after it is not", async () => {
  const env = newEnvironment();
  await env.setup();
  const before = new AsyncLocalStorage<string>();
  let release = (): void => undefined;
  const gate = new Promise<void>((r) => (release = r));
  // A continuation that began in before.run() and resumes after the teardown.
  const seen = before.run("file one", async () => {
    const during = before.getStore();
    await gate;
    return [during, before.getStore()];
  });
  await env.teardown();
  release();
  expect(await seen).toEqual(["file one", undefined]);

  // The next file's storage works as usual (and is disabled at this file's own end).
  const after = new AsyncLocalStorage<string>();
  const later = await after.run("file two", async () => {
    await new Promise((r) => setTimeout(r, 1));
    return after.getStore();
  });
  expect(later).toBe("file two");
});

test("enterWith() is tracked too", async () => {
  const env = newEnvironment();
  await env.setup();
  const storage = new AsyncLocalStorage<string>();
  const seen = (async () => {
    storage.enterWith("entered");
    const during = storage.getStore();
    await new Promise((r) => setImmediate(r));
    await env.teardown();
    return [during, storage.getStore()];
  })();
  expect(await seen).toEqual(["entered", undefined]);
});
