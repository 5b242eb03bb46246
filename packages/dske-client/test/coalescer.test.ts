import { Coalescer } from "../src/coalescer";

interface Entry {
  group: string;
  keys: string[];
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("Coalescer", () => {
  test("a lone request goes out at once; requests arriving meanwhile share the next batch", async () => {
    const sent: Entry[][] = [];
    const gates: { resolve: (v: string[]) => void }[] = [];
    const c = new Coalescer<Entry, string>({
      group: (e) => e.group,
      conflicts: (e) => e.keys,
      run: (entries) => {
        sent.push(entries);
        const d = deferred<string[]>();
        gates.push(d);
        return d.promise;
      },
    });
    const first = c.submit({ group: "g", keys: ["a"] });
    expect(sent).toHaveLength(1); // not delayed
    const later = ["b", "c", "d"].map((k) => c.submit({ group: "g", keys: [k] }));
    expect(sent).toHaveLength(1); // queued while the first batch is in flight
    gates[0].resolve(["r-a"]);
    await expect(first).resolves.toBe("r-a");
    await new Promise((r) => setImmediate(r));
    expect(sent).toHaveLength(2);
    expect(sent[1].map((e) => e.keys[0])).toEqual(["b", "c", "d"]);
    gates[1].resolve(["r-b", "r-c", "r-d"]);
    await expect(Promise.all(later)).resolves.toEqual(["r-b", "r-c", "r-d"]);
    expect(c.batches).toBe(2);
    expect(c.entries).toBe(4);
  });

  test("conflicting keys and other groups wait for a later batch; a failed batch rejects only its entries", async () => {
    const sent: Entry[][] = [];
    const c = new Coalescer<Entry, number>({
      group: (e) => e.group,
      conflicts: (e) => e.keys,
      run: async (entries) => {
        sent.push(entries);
        await new Promise((r) => setImmediate(r));
        if (entries.some((e) => e.keys.includes("bad"))) throw new Error("hub said no");
        return entries.map((e) => e.keys.length);
      },
    });
    const p0 = c.submit({ group: "g", keys: ["x"] });
    const p1 = c.submit({ group: "g", keys: ["a", "b"] });
    const p2 = c.submit({ group: "g", keys: ["b"] }); // conflicts with p1
    const p3 = c.submit({ group: "h", keys: ["c"] }); // other group
    const p4 = c.submit({ group: "g", keys: ["bad"] });
    const results = await Promise.allSettled([p0, p1, p2, p3, p4]);
    expect(sent.map((b) => b.map((e) => e.keys.join("+")))).toEqual([["x"], ["a+b", "bad"], ["b"], ["c"]]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled", "fulfilled", "rejected"]);
    expect((results[1] as PromiseRejectedResult).reason).toEqual(new Error("hub said no"));
    expect((results[2] as PromiseFulfilledResult<number>).value).toBe(1);
  });

  test("a run returning the wrong number of results rejects its entries instead of mixing them up", async () => {
    const c = new Coalescer<Entry, number>({ group: () => "g", conflicts: (e) => e.keys, run: () => Promise.resolve([]) });
    await expect(c.submit({ group: "g", keys: ["a"] })).rejects.toThrow(/0 results for 1 entries/);
  });
});
