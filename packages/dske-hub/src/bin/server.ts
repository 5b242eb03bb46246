/** Bin entry of the standalone hub, `dske-hub NAME --port P [...]` (built to dist/server.js; see standalone.ts). */
import { runHubCli } from "./standalone.js";

void runHubCli();
