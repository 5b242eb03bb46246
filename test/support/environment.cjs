/**
 * The suite's Jest environment (jest.config.cjs `testEnvironment`): Jest's node environment, plus
 * every AsyncLocalStorage a test file enabled is disabled when the file's environment is torn
 * down (after its last test and hook).
 *
 * Jest gives each test file its own module registry, so each file makes new storages (our
 * `requestContext` in `@dske/protocol`'s trace context, and jest-circus's own test context), but
 * `node:async_hooks` is the worker's one core module: Node 20 keeps every enabled storage in one
 * process-wide list and, on every new promise, timer or socket of the process, calls each of them
 * to propagate its store; none is ever dropped. A worker that had run 50 files propagated through
 * about 100 dead storages on every promise, and they kept those files' modules alive (profiled:
 * `_propagate` and the async hook around it were a tenth of the client's and hub's test CPU).
 * A running program has one storage of ours; this puts each test file back to that.
 *
 * `run` and `enterWith` are the only ways to enable a storage; they are wrapped once per worker
 * (the class is shared by all files) to remember the storages they were called on, and otherwise
 * call the originals.
 */
const { AsyncLocalStorage } = require("node:async_hooks");
const { TestEnvironment } = require("jest-environment-node");

// One set per worker, on the shared class, whichever copy of this module wrapped it.
const TRACKED = Symbol.for("dske.test.enabledAsyncLocalStorages");
const proto = AsyncLocalStorage.prototype;
if (!Object.prototype.hasOwnProperty.call(proto, TRACKED)) {
  const enabled = new Set();
  Object.defineProperty(proto, TRACKED, { value: enabled });
  const { run, enterWith } = proto;
  proto.run = function (store, callback, ...args) {
    enabled.add(this);
    return run.call(this, store, callback, ...args);
  };
  proto.enterWith = function (store) {
    enabled.add(this);
    return enterWith.call(this, store);
  };
}
const enabled = proto[TRACKED];

class DskeTestEnvironment extends TestEnvironment {
  async teardown() {
    for (const storage of enabled) storage.disable();
    enabled.clear();
    await super.teardown();
  }
}

module.exports = DskeTestEnvironment;
