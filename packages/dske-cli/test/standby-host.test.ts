/**
 * The standby node host (standby-host.ts): when bin.ts spawns one (wantsStandbyHost), taking and
 * releasing it, the handover it reads and the output it redirects (node-host.ts), and how a standby
 * ends that gets no handover or a bad one (the built dist/node-host.js, as bin.ts spawns it).
 * system/standby-host.test.ts starts topologies through it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { readHandover, redirectOutput, runStandbyHost } from "../src/node-host";
import {
  nodeHostScript,
  releaseStandbyHost,
  spawnStandbyHost,
  STANDBY_FLAG,
  takeStandbyHost,
  TITLE_ROOM,
  wantsStandbyHost,
} from "../src/standby-host";

describe("wantsStandbyHost: a guess from the command line, before the configuration is read", () => {
  it.each([
    [["start"], true],
    [["--config", "x.yaml", "--state-dir", "s", "start"], true],
    [["start", "--processes", "shared"], true],
    [["start", "hank", "carol"], true],
    [["start", "--processes", "separate"], false],
    [["start", "--processes=separate"], false],
    [["start", "--restart", "on-failure"], false],
    [["start", "--restart=always"], false],
    [["start", "--help"], false],
    [["status"], false],
    [["stop"], false],
    [[], false],
  ])("%j → %s", (args, expected) => {
    expect(wantsStandbyHost(args)).toBe(expected);
  });

  it("DSKE_NO_STANDBY_HOST turns it off", () => {
    process.env.DSKE_NO_STANDBY_HOST = "1";
    try {
      expect(wantsStandbyHost(["start"])).toBe(false);
    } finally {
      delete process.env.DSKE_NO_STANDBY_HOST;
    }
  });
});

/** Run the built node host as a standby, write `input` to its stdin and close it; its exit code and stderr. */
function standby(input: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [nodeHostScript(), STANDBY_FLAG, "_".repeat(TITLE_ROOM)], { stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, stderr }));
    child.stdin.end(input);
  });
}

describe("a standby without a handover", () => {
  it("exits 0 at the end of its input when none came (dske-cli did not need it)", async () => {
    expect(await standby("")).toEqual({ code: 0, stderr: "" });
  });

  it("exits 2 on a handover that is not one, saying what is wrong", async () => {
    const notJson = await standby("hank carol\n");
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toMatch(/^dske-node-host: .*JSON/);
    const incomplete = await standby(`${JSON.stringify({ argv: ["spec.json", "hank"], title: "t" })}\n`);
    expect(incomplete.code).toBe(2);
    expect(incomplete.stderr).toMatch(/cwd/);
  });
});

const exited = (child: ChildProcess): Promise<number | null> =>
  new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once("exit", (code) => resolve(code));
  });

describe("spawnStandbyHost / takeStandbyHost / releaseStandbyHost", () => {
  it("a spawned standby is taken once and exits 0 at the end of its input; a released one is gone", async () => {
    expect(takeStandbyHost()).toBeUndefined();
    spawnStandbyHost();
    const taken = takeStandbyHost();
    expect(taken?.pid).toEqual(expect.any(Number));
    expect(takeStandbyHost()).toBeUndefined();
    taken?.stdin?.end();
    expect(await exited(taken as ChildProcess)).toBe(0);

    // Released: no longer there to take (it exits at the end of its input, as above).
    spawnStandbyHost();
    releaseStandbyHost();
    expect(takeStandbyHost()).toBeUndefined();
  });
});

describe("the handover (node-host.ts)", () => {
  const valid = { argv: ["spec.json", "hank"], title: "node node-host.js spec.json hank", cwd: "/", output: "host.log" };

  it("readHandover: none at end of input; one JSON document, checked", async () => {
    expect(await readHandover(Readable.from([]))).toBeUndefined();
    expect(await readHandover(Readable.from(["  \n"]))).toBeUndefined();
    expect(await readHandover(Readable.from([Buffer.from(JSON.stringify(valid).slice(0, 10)), JSON.stringify(valid).slice(10)]))).toEqual(
      valid,
    );
    await expect(readHandover(Readable.from(["{"]))).rejects.toThrow(/^standby handover: not JSON/);
    await expect(readHandover(Readable.from([JSON.stringify({ ...valid, argv: ["spec.json"] })]))).rejects.toThrow(
      /^standby handover: argv: /,
    );
  });

  it("runStandbyHost: at end of input without a handover it starts nothing and returns", async () => {
    await expect(runStandbyHost(Readable.from([]))).resolves.toBeUndefined();
  });

  it("redirectOutput: what is written to the streams is appended to the file, callbacks called", () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "dske-standby-")), "host-hank.log");
    const streams = [{ write: () => false }, { write: () => false }] as unknown as NodeJS.WriteStream[];
    redirectOutput(file, streams);
    let called = 0;
    expect(streams[0].write("out ")).toBe(true);
    streams[1].write(Buffer.from("err "), () => (called += 1));
    streams[1].write("6c6174696e31", "hex", () => (called += 1));
    expect(readFileSync(file, "utf8")).toBe("out err latin1");
    expect(called).toBe(2);
  });
});
