/**
 * `dske-cli logs` in process (runCli, the command as the bin runs it; system/logs.test.ts runs the
 * bin against live nodes): the tail across a rotated file, human and --json formats, -n 0, -f
 * following appends and a rotation until stopped, and the errors for an unknown node and a node
 * without a log.
 */
import { appendFileSync, mkdirSync, mkdtempSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { runCli } from "../src/cli";
import { CapturedOutput } from "../src/output";

const line = (msg: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ level: "info", time: "2026-12-05T06:00:00.000Z", kind: "hub", node: "hank", msg, ...extra });

function fixture() {
  const dir = mkdtempSync(path.join(tmpdir(), "dske-logs-"));
  const config = path.join(dir, "dske-config.yaml");
  writeFileSync(
    config,
    "base_port: 20540\nmin_nr_shares: 1\nhubs:\n  - name: hank\nclients:\n  - name: carol\n    encryptors:\n      - name: sam\n",
  );
  const state = path.join(dir, "state");
  mkdirSync(path.join(state, "logs"), { recursive: true });
  const log = path.join(state, "logs", "hank.log");
  const cli = async (args: string[], stopSignal?: AbortSignal, out = new CapturedOutput()) => {
    const code = await runCli(["--config", config, "--state-dir", state, ...args], { out, stopSignal });
    return { code, out };
  };
  return { log, cli };
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("dske-cli logs", () => {
  it("the last N lines, from the rotated file on when the current one holds fewer; human format or --json", async () => {
    const { log, cli } = fixture();
    writeFileSync(`${log}.1`, `${line("one")}\n${line("two")}\n`);
    writeFileSync(log, `${line("three", { port: 20540 })}\n\n${line("four")}\n`);
    const human = await cli(["logs", "hank", "-n", "3"]);
    expect(human.code).toBe(0);
    expect(human.out.lines).toHaveLength(3);
    expect(human.out.lines.map((l) => /(two|three|four)/.exec(l)?.[1])).toEqual(["two", "three", "four"]);
    expect(human.out.lines[1]).toContain("port=20540");
    const json = await cli(["logs", "hank", "--json", "-n", "10"]);
    expect(json.out.lines).toEqual([line("one"), line("two"), line("three", { port: 20540 }), line("four")]);
    expect((await cli(["logs", "hank", "-n", "0"])).out.lines).toEqual([]);
  });

  it("-f: prints what is appended (a line once it is whole), then the rest of a rotated file and the new one, until stopped", async () => {
    const { log, cli } = fixture();
    writeFileSync(log, `${line("before")}\n`);
    const stop = new AbortController();
    const out = new CapturedOutput();
    const run = cli(["logs", "hank", "-f", "--json", "-n", "1"], stop.signal, out);
    await until("the tail", () => out.lines.length === 1);
    appendFileSync(log, `${line("appended")}\n${line("split").slice(0, 10)}`);
    await until("the appended line", () => out.lines.length === 2);
    expect(out.lines[1]).toBe(line("appended"));
    appendFileSync(log, `${line("split").slice(10)}\n`);
    await until("the line once whole", () => out.lines.length === 3);
    expect(out.lines[2]).toBe(line("split"));
    // Rotation: the old file gets one more line after its rename; then the new file starts.
    renameSync(log, `${log}.1`);
    appendFileSync(`${log}.1`, `${line("last of the old file")}\n`);
    writeFileSync(log, `${line("after rotation")}\n`);
    await until("the new file's line", () => out.lines.length === 5);
    stop.abort();
    expect((await run).code).toBe(0);
    expect(out.lines).toEqual([line("before"), line("appended"), line("split"), line("last of the old file"), line("after rotation")]);
  });

  it("an unknown node names the configuration and its nodes; a node without a log says how to start it", async () => {
    const { cli } = fixture();
    const unknown = await cli(["logs", "hanc"]);
    expect(unknown.code).toBe(2);
    expect(unknown.out.stderr).toMatch(/logs: no node 'hanc' in .*dske-config\.yaml; expected one of its nodes: hank, carol/);
    const none = await cli(["logs", "carol"]);
    expect(none.code).toBe(1);
    expect(none.out.stderr).toMatch(/logs: client carol has no log yet \(.*carol\.log does not exist\); start it: dske-cli start/);
  });
});
