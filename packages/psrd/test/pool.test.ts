import { must, uuidFor, blockData } from "./helpers.js";
import { describePoolContract } from "./pool-contract.js";
import { STORE_KINDS, makeStore } from "./stores.js";

const B1 = uuidFor(1);
const D1 = blockData(1, 100);

describe.each(STORE_KINDS)("%s", (kind) => {
  describePoolContract(() => makeStore(kind), kind === "FileStore");
});

test("MemoryStore zeroes consumed bytes in its block buffers", async () => {
  const { MemoryStore } = await import("../src/index.js");
  const store = new MemoryStore();
  const L = await store.openPool("L", "local");
  const P = await store.openPool("P", "peer");
  await L.addBlock(B1, D1, { keyPrefix: 16 });
  await P.addBlock(B1, D1, { keyPrefix: 16 });
  await L.allocate(30, "x");
  await P.take({ fragments: [{ blockUuid: B1, start: 50, size: 10 }] }, "x");
  // why: reach into the store's private buffers to observe them (test-only).
  const buffers = (name: string) =>
    must((store as unknown as { pools: Map<string, { backend: { data: Uint8Array[] } }> }).pools.get(name), `pool ${name}`).backend.data[0];
  expect(buffers("L").subarray(0, 16)).toEqual(D1.subarray(0, 16));
  expect(
    buffers("L")
      .subarray(16, 46)
      .every((x) => x === 0),
  ).toBe(true);
  expect(buffers("L").subarray(46)).toEqual(D1.subarray(46));
  expect(
    buffers("P")
      .subarray(50, 60)
      .every((x) => x === 0),
  ).toBe(true);
  expect(buffers("P").subarray(16, 50)).toEqual(D1.subarray(16, 50));
  await store.deletePool("L");
  await store.close();
});
