/** The `dske-cli` executable. */
import { spawnStandbyHost, wantsStandbyHost } from "./standby-host";

// A `start` spawns the node host before dske-cli loads the rest of itself (standby-host.ts).
if (wantsStandbyHost(process.argv.slice(2))) spawnStandbyHost();
const { runCli } = await import("./cli");

// `dske-cli status | head`: a closed pipe ends the output quietly, not with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw err;
  });
}

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`dske-cli: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
