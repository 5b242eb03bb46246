/** Bin entry of the standalone hub: `dske-hub NAME --port P [...]` (see standalone.ts). */
import { runHubCli } from "./standalone.js";

void runHubCli();
