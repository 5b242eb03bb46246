/** Bin entry of the node host (built to dist/node-host.js; see node-host.ts and standby-host.ts). */
import { runNodeHost, runStandbyHost } from "./node-host";
import { STANDBY_FLAG } from "./standby-host";

const argv = process.argv.slice(2);
if (argv[0] === STANDBY_FLAG) {
  runStandbyHost().catch((err: unknown) => {
    // A handover that is not one (dske-cli then sees the host gone and says so).
    process.stderr.write(`dske-node-host: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  });
} else {
  void runNodeHost(argv);
}
