/** Bin entry `dske-client NAME --port P --hubs URL... --encryptors NAME... [options]`. */
import { runClientCli } from "./standalone.js";

void runClientCli().catch((err: unknown) => {
  process.stderr.write(`dske-client: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
