import fc from "fast-check";
import { IntervalSet } from "../src/index.js";

const N = 64;
const op = fc.record({
  kind: fc.constantFrom("add", "remove"),
  start: fc.integer({ min: 0, max: N }),
  len: fc.integer({ min: 0, max: 20 }),
});

test("matches a bitmap model: total, overlaps, covers, merged intervals", () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), fc.integer({ min: 0, max: N }), fc.integer({ min: 0, max: 12 }), (ops, qs, ql) => {
      const set = new IntervalSet();
      const model = new Array<boolean>(N + 40).fill(false);
      for (const o of ops) {
        const e = o.start + o.len;
        if (o.kind === "add") set.add(o.start, e);
        else set.remove(o.start, e);
        for (let i = o.start; i < e; i++) model[i] = o.kind === "add";
      }
      expect(set.total).toBe(model.filter(Boolean).length);
      const qe = qs + ql;
      const slice = model.slice(qs, qe);
      expect(set.overlaps(qs, qe)).toBe(slice.some(Boolean));
      expect(set.covers(qs, qe)).toBe(slice.every(Boolean));
      // Intervals are sorted, disjoint, non-adjacent (merged) and exactly the model's runs.
      const runs: [number, number][] = [];
      for (let i = 0; i < model.length; i++) {
        if (model[i] && (i === 0 || !model[i - 1])) runs.push([i, i + 1]);
        else if (model[i]) runs[runs.length - 1][1] = i + 1;
      }
      expect([...set.intervals()]).toEqual(runs);
      expect(set.count).toBe(runs.length);
    }),
    { numRuns: 500 },
  );
});

test("in-order use keeps one interval (memory O(gaps), not O(bytes))", () => {
  const set = new IntervalSet();
  for (let i = 0; i < 100000; i += 7) set.add(i, i + 7);
  expect(set.count).toBe(1);
  expect(set.total).toBe(100002);
});
