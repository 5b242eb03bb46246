/**
 * The commands that run a topology unattended: `supervise` (the built-in supervisor of a dev
 * machine, supervisor.ts; `start` runs it when the restart policy is not `no`) and `systemd`
 * (units for hosts, systemd-command.ts).
 */
import { Option, type Command } from "commander";
import { tlsEnabled } from "./certs";
import type { DskeConfig } from "./config";
import type { ServerScripts } from "./node-command";
import type { Output } from "./output";
import type { ProcessManager } from "./process-manager";
import { RESTART_POLICIES, withPolicy, type RestartPolicyName } from "./restart-policy";
import type { StateDir } from "./state-dir";
import { Supervisor } from "./supervisor";
import { writeSystemdUnits } from "./systemd-command";
import type { Topology } from "./topology";

export interface OperationsDeps {
  /** The topology of --config, with `--on HOST` placement. */
  context(on?: readonly string[]): { config: DskeConfig; topology: Topology; state: StateDir; manager: ProcessManager; configFile: string };
  out: Output;
  scripts?: ServerScripts;
  /** Ends `supervise` like SIGTERM (in-process callers and tests). */
  stopSignal?: AbortSignal;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function addOperationsCommands(program: Command, deps: OperationsDeps): void {
  program
    .command("supervise")
    .description(
      "restart crashed nodes of this host with backoff until none is left running (started by `start` when the restart policy is not no)",
    )
    .addOption(new Option("--restart <policy>", "the restart policy (default: `restart:` of the config)").choices(RESTART_POLICIES))
    .action(async (opts: { restart?: RestartPolicyName }) => {
      const ctx = deps.context();
      const stop = new AbortController();
      const end = () => stop.abort();
      process.once("SIGTERM", end);
      process.once("SIGINT", end);
      deps.stopSignal?.addEventListener("abort", end);
      try {
        const policy = withPolicy(ctx.config.restart, opts.restart);
        await new Supervisor({ topology: ctx.topology, state: ctx.state, manager: ctx.manager, policy }).run(stop.signal);
      } finally {
        process.off("SIGTERM", end);
        process.off("SIGINT", end);
      }
    });

  program
    .command("systemd")
    .description("write a systemd service unit per node of this host (and PREFIX.target) for hosts: Restart=on-failure, sandboxed")
    .requiredOption("--out <dir>", "directory to write the units to")
    .option("--user", "units for `systemctl --user` (no User=, wanted by default.target)")
    .option("--prefix <prefix>", "unit name prefix: PREFIX-hub-NAME.service, PREFIX.target", "dske")
    .option("--on <host>", "this machine is HOST (multi-host topologies; repeatable)", collect, [])
    .action(async (opts: { out: string; user?: boolean; prefix: string; on: string[] }) => {
      const ctx = deps.context(opts.on);
      await writeSystemdUnits(
        { ...ctx, tls: ctx.config.tls || tlsEnabled(ctx.state.root), restart: ctx.config.restart, scripts: deps.scripts },
        { out: opts.out, user: opts.user === true, prefix: opts.prefix },
        deps.out,
      );
    });
}
