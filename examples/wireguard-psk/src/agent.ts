/**
 * The encryptor agent of one WireGuard host (run it on that host, as root or with the rights to
 * use `wg`): `tsx src/agent.ts --role master|slave ...` (options: agent-options.ts). It runs until
 * SIGTERM or SIGINT and reports each rotation as a JSON line on stdout.
 */
import { parseAgentOptions, type AgentOptions } from "./agent-options.js";
import { MasterAgent } from "./master.js";
import { SlaveAgent } from "./slave.js";

let opts: AgentOptions;
try {
  opts = parseAgentOptions(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
}

if (opts.role === "master") {
  const agent = new MasterAgent(opts);
  agent.start();
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    process.once(sig, () => {
      agent.stop();
      process.exit(0);
    });
  }
} else {
  const agent = new SlaveAgent(opts);
  try {
    await agent.start();
  } catch (err) {
    process.stderr.write(`agent: cannot listen on ${opts.listen}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    process.once(sig, () => void agent.stop().then(() => process.exit(0)));
  }
}
