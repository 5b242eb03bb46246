/** NodeState (client-state.json): every change durable when its promise resolves, with group commit. */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { FsyncCounter } from "@dske/psrd";
import { NodeState } from "../src/node-state";

describe("NodeState: group commit of client-state.json", () => {
  let dir = "";
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "dske-node-state-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("ten changes at once: each is on disk when its promise resolves, in fewer writes than changes", async () => {
    const file = path.join(dir, "client-state.json");
    const state = await NodeState.open(file);
    const count = new FsyncCounter(dir);
    const onDisk = () => (JSON.parse(readFileSync(file, "utf8")) as { hubs: Record<string, unknown> }).hubs;
    const seenAtResolve: number[] = [];
    try {
      await Promise.all(
        Array.from({ length: 10 }, async (_, i) => {
          const url = `http://127.0.0.1:${9000 + i}`;
          await state.setHub(url, { hub_name: `h${i}`, auth_scheme: "gf128", extensions: [] });
          // Durable at resolve: this change is in the file.
          if (onDisk()[url] !== undefined) seenAtResolve.push(i);
        }),
      );
      expect(seenAtResolve).toHaveLength(10);
      expect(Object.keys(onDisk())).toHaveLength(10);
      // Each write is a file fsync plus a directory fsync: one per change would be 20.
      expect(count.fsyncs).toBeGreaterThan(0);
      expect(count.fsyncs).toBeLessThanOrEqual(4);
      // Reopened, the records are there.
      const again = await NodeState.open(file);
      expect(again.hub("http://127.0.0.1:9009")).toMatchObject({ hub_name: "h9" });
    } finally {
      count.close();
      await state.close();
    }
  });
});
