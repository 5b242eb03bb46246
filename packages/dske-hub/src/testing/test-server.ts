/**
 * TEST-ONLY bin (built to dist/test-server.js, left out of the published package): the standalone
 * hub (`dske-hub`, same arguments) with the fault injection of faults.ts, switched on by the
 * environment variable `DSKE_TEST_FAULTS`. System tests spawn it for their hubs; the production
 * binary (dist/server.js) ignores that variable.
 */
import { runHubCli } from "../bin/standalone.js";
import { installTestFaults } from "./faults.js";

void runHubCli(process.argv.slice(2), {
  setup: ({ hub, app, logger }) => {
    const faults = installTestFaults(hub, (message, fields) => logger.warn(message, fields));
    if (faults) app.use(faults);
  },
});
