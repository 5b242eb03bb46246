/** Bin entry of the node host (built to dist/node-host.js; see node-host.ts). */
import { runNodeHost } from "./node-host";

void runNodeHost();
