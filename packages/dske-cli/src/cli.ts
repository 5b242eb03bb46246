/**
 * The command line (commander): the reference manager's verbs and options.
 *
 *   dske-cli [--config FILE] [--client NAME]... [--hub NAME]... [--state-dir DIR] start [--tls] [--on HOST]... [--restart POLICY] [--processes separate|shared]|stop|status [--verbose|--json|--reference]
 *   dske-cli supervise [--restart POLICY]          (run by `start` when the restart policy is not `no`)
 *   dske-cli systemd --out DIR [--user] [--prefix P] [--on HOST]...
 *   dske-cli certs [--force] [--san NAME_OR_IP]...
 *   dske-cli dashboard [--port P] [--host H] [--interval MS]
 *   dske-cli logs NAME [-n N] [-f] [--json]
 *   dske-cli --version | -V
 *   dske-cli etsi-qkd MASTER_SAE SLAVE_SAE get-status
 *   dske-cli etsi-qkd MASTER_SAE SLAVE_SAE get-key [--size BITS] [--number N]
 *   dske-cli etsi-qkd MASTER_SAE SLAVE_SAE get-key-with-key-ids KEY_ID...
 *   dske-cli etsi-qkd MASTER_SAE SLAVE_SAE get-key-pair [--size BITS]
 *
 * `runCli` never exits the process: it returns the exit code (0 ok, 1 operation failed,
 * 2 bad usage or configuration).
 */
import { isIP } from "node:net";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";

export { reorderEtsiArgs } from "./etsi-args";
import { z } from "zod";
import { certLayout, ensureCertificates, readTlsMaterial, tlsEnabled } from "./certs";
import { certSansFor, readExtraSans, writeExtraSans } from "./cert-sans";
import {
  ConfigError,
  loadConfig,
  logMaxFilesSchema,
  logMaxSizeSchema,
  PROCESS_MODES,
  processModeOf,
  resolveStateDir,
  type DskeConfig,
  type ProcessMode,
} from "./config";
import { DASHBOARD_DEFAULTS, parseDashboardOptions, runDashboard } from "./dashboard-command";
import { NodeStarter, shellWord } from "./down-node-hint";
import { CliError } from "./errors";
import { HELP_CONFIG } from "./help-format";
import { EtsiCaller, type EtsiCallerTls } from "./etsi-caller";
import { EtsiCommand, type EtsiOperation } from "./etsi-command";
import { ETSI_USAGE, etsiOperationTerm, reorderEtsiArgs } from "./etsi-args";
import type { ServerScripts } from "./node-command";
import { consoleOutput, type Output } from "./output";
import { runLogs } from "./logs-command";
import { CLI_VERSION } from "./version";
import { ensureOperatorToken } from "./operator-token";
import { ProcessManager, type ManagerTimeouts } from "./process-manager";
import { StateDir } from "./state-dir";
import { psrdInstall, psrdIssue, psrdReset } from "./psrd-command";
import { collectStatus, printStatusJson, printStatusReference, printStatusSummary } from "./status-command";
import { formatStatusTable, overviews } from "./status-table";
import { RESTART_POLICIES, withPolicy, type RestartPolicyName } from "./restart-policy";
import { addOperationsCommands } from "./operations-commands";
import { ensureSupervisor } from "./supervisor";
import { supervisorLogFile } from "./supervisor-state";
import { isExternal, selectNodes, Topology, UnknownNodeError } from "./topology";

export interface RunCliOptions {
  out?: Output;
  /** Server script overrides (tests). */
  scripts?: ServerScripts;
  /** Wait/poll overrides (tests). */
  timeouts?: Partial<ManagerTimeouts>;
  /** Ends a running `dashboard` verb like SIGINT does (in-process callers and tests). */
  stopSignal?: AbortSignal;
}

const globalOptionsSchema = z.object({
  config: z.string().min(1),
  client: z.array(z.string()),
  hub: z.array(z.string()),
  stateDir: z.string().min(1).optional(),
  timeout: z.number().positive().optional(),
});
type GlobalOptions = z.infer<typeof globalOptionsSchema>;

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function positiveInt(what: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`expected ${what} (a positive integer)`);
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError(`expected ${what} (a positive integer)`);
    return n;
  };
}

function nonNegativeInt(what: string) {
  return (value: string): number => {
    if (!/^\d{1,9}$/.test(value)) throw new InvalidArgumentError(`expected ${what} (an integer, 0 or more)`);
    return Number(value);
  };
}

function positiveSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("expected a positive number of seconds");
  return n;
}

interface Context {
  config: DskeConfig;
  topology: Topology;
  state: StateDir;
  manager: ProcessManager;
}

export async function runCli(argv: readonly string[], options: RunCliOptions = {}): Promise<number> {
  const out = options.out ?? consoleOutput;
  let exitCode = 0;

  const program = new Command("dske-cli");
  program
    .description("DSKE manager: start, stop and inspect a DSKE topology, and call the ETSI QKD 014 API")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => out.line(s.replace(/\n$/, "")),
      writeErr: (s) => out.error(s.replace(/\n$/, "")),
    })
    .showHelpAfterError("(add --help for usage)")
    .version(CLI_VERSION, "-V, --version", "print the version of dske-cli")
    .configureHelp(HELP_CONFIG)
    .option("--config <file>", "configuration file name", "dske-config.yaml")
    .option("--client <name>", "filter on client name (repeatable)", collect, [])
    .option("--hub <name>", "filter on hub name (repeatable)", collect, [])
    .option("--state-dir <dir>", "state directory for pid, log and node state files (default: .dske next to the config file)")
    .addOption(new Option("--timeout <secs>", "time limit for waiting for nodes to start or stop").argParser(positiveSeconds));

  const globals = (): GlobalOptions => {
    const r = globalOptionsSchema.safeParse(program.opts());
    if (r.success) return r.data;
    const what: Record<string, string> = { config: "a file name", stateDir: "a directory name", timeout: "a positive number of seconds" };
    const problems = r.error.issues.map((i) => {
      const key = String(i.path[0] ?? "");
      return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: expected ${what[key] ?? "a value"}`;
    });
    throw new CliError(`invalid option ${problems.join("; ")}`, 2);
  };

  const context = (startTls = false, on: readonly string[] = [], overrides: Partial<DskeConfig> = {}): Context => {
    const g = globals();
    const config: DskeConfig = { ...loadConfig(g.config), ...overrides };
    const topology = new Topology(config);
    const state = new StateDir(resolveStateDir(g.config, config, g.stateDir));
    const ms = g.timeout !== undefined ? g.timeout * 1000 : undefined;
    const timeouts: Partial<ManagerTimeouts> = {
      ...(ms !== undefined ? { portFreeMs: ms, startMs: ms, stopMs: ms } : {}),
      ...options.timeouts,
    };
    const manager = new ProcessManager({ topology, state, out, scripts: options.scripts, timeouts, tls: startTls || config.tls, on });
    return { config, topology, state, manager };
  };

  /** How to start a node that is down: the user's --config and --state-dir repeated (down-node-hint.ts). */
  const starter = (ctx: Context): NodeStarter => {
    const repeat: string[] = [];
    if (program.getOptionValueSource("config") === "cli") repeat.push("--config", shellWord(globals().config));
    const stateDir = globals().stateDir;
    if (stateDir !== undefined) repeat.push("--state-dir", shellWord(stateDir));
    return new NodeStarter(repeat, (n) => ctx.manager.isLocal(n));
  };

  const selection = (ctx: Context) => {
    const g = globals();
    return selectNodes(ctx.topology, { clients: g.client, hubs: g.hub });
  };

  program
    .command("start")
    .description("start all hubs and clients (or the filtered ones)")
    .option(
      "--tls",
      "clients serve the ETSI API over HTTPS with mutual TLS and hubs serve HTTPS (creates missing certificates; also `tls: true` in the config)",
    )
    .option(
      "--on <host>",
      "multi-host topology: this machine is HOST: start only the nodes whose `host` is HOST (repeatable); default: the nodes whose host is loopback or an address of this machine",
      collect,
      [],
    )
    .option("--log-max-size <size>", "rotate each node's log when it reaches this size, e.g. 10M (overrides log_max_size)")
    .option("--log-max-files <n>", "rotated log files kept per node (overrides log_max_files)")
    .addOption(
      new Option(
        "--restart <policy>",
        "restart crashed nodes (a supervisor process per state dir; default: `restart:` of the config, else no)",
      ).choices(RESTART_POLICIES),
    )
    .addOption(
      new Option(
        "--processes <mode>",
        "separate: one process per node; shared: the file-store nodes of this host in one process, for less memory and a faster start (default: `processes:` of the config, else shared, or separate with a restart policy)",
      ).choices(PROCESS_MODES),
    )
    .action(
      async (opts: {
        tls?: boolean;
        on: string[];
        logMaxSize?: string;
        logMaxFiles?: string;
        restart?: RestartPolicyName;
        processes?: ProcessMode;
      }) => {
        const ctx = context(opts.tls === true, opts.on, {
          ...logOverrides(opts),
          ...(opts.processes ? { processes: opts.processes } : {}),
        });
        const restartPolicy = withPolicy(ctx.config.restart, opts.restart).policy;
        const mode = processModeOf(ctx.config, restartPolicy);
        if (mode === "shared" && restartPolicy !== "no") {
          throw new CliError(
            `--restart ${restartPolicy} restarts one node's process, and with processes: shared the nodes share one: use --processes separate to have crashed nodes restarted`,
            2,
          );
        }
        await ctx.manager.start(selection(ctx), mode);
        if (restartPolicy !== "no") {
          const s = ensureSupervisor(ctx.state, globals().config, opts.restart);
          out.line(
            `Supervisor ${s.started ? "started" : "running"} (pid ${s.pid}): crashed nodes are restarted; log: ${supervisorLogFile(ctx.state)}`,
          );
        }
      },
    );

  addOperationsCommands(program, {
    context: (on) => {
      const ctx = context(false, on);
      return { ...ctx, configFile: globals().config };
    },
    out,
    scripts: options.scripts,
    stopSignal: options.stopSignal,
  });

  program
    .command("certs")
    .description(
      "create the topology CA and the TLS certificates of every hub, client, encryptor (SAE) and the operator under <state-dir>/tls",
    )
    .option("--force", "regenerate the CA and every certificate")
    .option(
      "--san <name>",
      "extra host name or IP address in every hub and client server certificate (repeatable; replaces those of an earlier --san)",
      collect,
      [],
    )
    .action(async (opts: { force?: boolean; san: string[] }) => {
      const ctx = context();
      const extra = opts.san.length > 0 ? opts.san.map(checkSan) : readExtraSans(ctx.state.root);
      const r = await ensureCertificates(ctx.state.root, {
        clients: ctx.topology.clients.filter((c) => !isExternal(c)).map((c) => c.name),
        hubs: ctx.topology.hubs.filter((h) => !isExternal(h)).map((h) => h.name),
        saes: ctx.topology.allEncryptors(),
        sans: certSansFor(ctx.topology, ctx.state.root, extra),
        force: opts.force === true,
      });
      writeExtraSans(ctx.state.root, extra);
      // The topology's one operator token, made here too so that it is copied to every host with the certificates.
      ensureOperatorToken(ctx.state.root);
      out.line(`TLS certificates in ${certLayout(ctx.state.root).dir}: ${r.created.length} created, ${r.kept.length} kept`);
    });

  program
    .command("stop")
    .description("stop all hubs and clients (or the filtered ones)")
    .action(async () => {
      const ctx = context();
      await ctx.manager.stop(selection(ctx));
    });

  program
    .command("status")
    .description("report status for all hubs and clients (or the filtered ones)")
    .option("--json", "one JSON document: the node's status (one node selected) or an array of them (`| jq ...`), with `overview`")
    .addOption(
      new Option("--verbose", "the detailed summary of every node (default with --hub/--client filters)").conflicts(["json", "reference"]),
    )
    .addOption(
      new Option(
        "--reference",
        'the reference manager\'s format: "Status for hub hank on port 8100", then the JSON (`| tail -n +2 | jq`)',
      ).conflicts("json"),
    )
    .action(async (opts: { json?: boolean; reference?: boolean; verbose?: boolean }) => {
      const ctx = context();
      const sel = selection(ctx);
      const results = await collectStatus(sel, ctx.manager.credential, (n) => !ctx.manager.isLocal(n));
      const rows = () => overviews(results, ctx.state, (n) => ctx.manager.isLocal(n));
      if (opts.json) printStatusJson(results, out, rows());
      else if (opts.reference) printStatusReference(results, out);
      else if (opts.verbose || !sel.all) printStatusSummary(results, out, ctx.config.insecure);
      else {
        if (ctx.config.insecure) out.line("Topology: insecure: true (plain HTTP off loopback allowed by the configuration)");
        for (const l of formatStatusTable(results, rows())) out.line(l);
      }
    });

  program
    .command("logs")
    .description("print the last lines of node NAME's log (.dske/logs/NAME.log, JSON lines), and with -f follow it until SIGINT")
    .argument("<name>", "the hub or client")
    .option("-n, --lines <n>", "how many of the last lines to print (0: none)", nonNegativeInt("a number of lines"), 20)
    .option("-f, --follow", "keep printing lines as the node writes them (across rotations) until SIGINT")
    .option("--json", "print the lines as written (one JSON object each, for jq) instead of the human format")
    .action(async (name: string, o: { lines: number; follow?: boolean; json?: boolean }) => {
      const ctx = context();
      await runLogs({ topology: ctx.topology, state: ctx.state, out, configFile: globals().config, stopSignal: options.stopSignal }, name, {
        lines: o.lines,
        follow: o.follow === true,
        json: o.json === true,
      });
    });

  program
    .command("dashboard")
    .description("serve a live web dashboard of the topology (nodes, PSRD pools, key rates) until SIGINT/SIGTERM")
    .option("--port <port>", `TCP port (0: a free port chosen by the system; default ${DASHBOARD_DEFAULTS.port})`)
    .option("--host <host>", `interface to bind (default ${DASHBOARD_DEFAULTS.host})`)
    .option("--interval <ms>", `how often the nodes are polled (default ${DASHBOARD_DEFAULTS.interval} ms)`)
    .action(async (opts: Record<string, unknown>) => {
      const parsed = parseDashboardOptions(opts);
      const ctx = context();
      await runDashboard({ topology: ctx.topology, out, credential: ctx.manager.credential, stopSignal: options.stopSignal }, parsed);
    });

  const psrd = program.command("psrd").description("PSRD bundles by hand: issue at a hub, install at a client (out-of-band delivery)");
  const psrdCtx = (ctx: Context) => ({
    topology: ctx.topology,
    state: ctx.state,
    out,
    operatorToken: ctx.manager.credential.token,
    tls: ctx.manager.credential.tls,
    starter: starter(ctx),
  });
  psrd
    .command("issue")
    .description("have HUB issue a sealed PSRD bundle for CLIENT (written on the hub's host)")
    .argument("<hub>", "the issuing hub")
    .argument("<client>", "the client the bundle is for")
    .option("--client-owned-bytes <n>", "usable bytes for the client-owned pool", positiveInt("a byte count"), 65536)
    .option("--hub-owned-bytes <n>", "usable bytes for the hub-owned pool", positiveInt("a byte count"), 65536)
    .option("--out <file>", "move the bundle to this file (e.g. on removable media)")
    .action(async (hub: string, clientName: string, o: { clientOwnedBytes: number; hubOwnedBytes: number; out?: string }) => {
      const ctx = context();
      await psrdIssue(psrdCtx(ctx), {
        hub,
        client: clientName,
        clientOwnedBytes: o.clientOwnedBytes,
        hubOwnedBytes: o.hubOwnedBytes,
        out: o.out,
      });
    });
  psrd
    .command("install")
    .description("install a PSRD bundle FILE at CLIENT (or put it into its inbox if it is not running)")
    .argument("<client>", "the client to install it at")
    .argument("<file>", "the bundle file")
    .action(async (clientName: string, file: string) => {
      const ctx = context();
      await psrdInstall(psrdCtx(ctx), { client: clientName, file });
    });

  psrd
    .command("reset")
    .description(
      "make CLIENT forget its PSRD with HUB (e.g. the hub lost its state): the hub's local distributor then delivers a new first bundle",
    )
    .argument("<client>", "the client")
    .argument("<hub>", "the hub")
    .action(async (clientName: string, hub: string) => {
      const ctx = context();
      await psrdReset(psrdCtx(ctx), { client: clientName, hub });
    });

  const etsi = program
    .command("etsi-qkd")
    .description(`ETSI QKD 014 operations: ${ETSI_USAGE.replace(/^dske-cli /, "")}`)
    .usage("MASTER_SAE SLAVE_SAE <operation> [options]")
    // The operations listed as they are typed: SAEs first.
    .configureHelp({ ...HELP_CONFIG, subcommandTerm: etsiOperationTerm });

  const runEtsi = async (op: EtsiOperation, master: string, slave: string, opts: Parameters<EtsiCommand["run"]>[3]) => {
    const ctx = context();
    await new EtsiCommand(ctx.topology, out, new EtsiCaller(undefined, saeTls(ctx)), starter(ctx)).run(master, slave, op, opts);
  };

  const etsiOp = (name: EtsiOperation, description: string, usage: string) => {
    const cmd = etsi
      .command(name)
      .description(description)
      .argument("<MASTER_SAE>", "the master encryptor (SAE) ID: it gets the key (Get key)")
      .argument("<SLAVE_SAE>", "the slave encryptor (SAE) ID: it gets the same key by its ID (Get key with key IDs)");
    cmd.configureHelp({ ...HELP_CONFIG, commandUsage: () => `dske-cli etsi-qkd MASTER_SAE SLAVE_SAE ${name} ${usage}`.trimEnd() });
    return cmd;
  };

  etsiOp("get-status", "invoke the ETSI QKD Status API on the master's client (KME)", "").action(async (master: string, slave: string) =>
    runEtsi("get-status", master, slave, {}),
  );

  etsiOp("get-key", "invoke the ETSI QKD Get Key API on the master's client (KME)", "[--size BITS] [--number N]")
    .option("--size <bits>", "key size in bits", positiveInt("a key size in bits"))
    .option("--number <n>", "number of keys", positiveInt("a number of keys"))
    .option("--additional-slave <sae>", "additional slave SAE (key multicast; repeatable)", collect, [])
    .action(async (master: string, slave: string, o: { size?: number; number?: number; additionalSlave: string[] }) =>
      runEtsi("get-key", master, slave, { size: o.size, number: o.number, additionalSlaves: o.additionalSlave }),
    );

  etsiOp("get-key-with-key-ids", "invoke the ETSI QKD Get Key with Key IDs API on the slave's client (KME)", "KEY_ID...")
    .argument("<KEY_ID...>", "key IDs returned to the master by get-key")
    .action(async (master: string, slave: string, keyIds: string[]) => runEtsi("get-key-with-key-ids", master, slave, { keyIds }));

  etsiOp("get-key-pair", "get a key on the master's client, the same key on the slave's client, and compare them", "[--size BITS]")
    .option("--size <bits>", "key size in bits", positiveInt("a key size in bits"))
    .option("--number <n>", "number of keys", positiveInt("a number of keys"))
    .option("--additional-slave <sae>", "additional slave SAE (key multicast; repeatable)", collect, [])
    .action(async (master: string, slave: string, o: { size?: number; number?: number; additionalSlave: string[] }) =>
      runEtsi("get-key-pair", master, slave, { size: o.size, number: o.number, additionalSlaves: o.additionalSlave }),
    );

  try {
    await program.parseAsync([...reorderEtsiArgs(argv)], { from: "user" });
  } catch (err) {
    exitCode = handleError(err, out);
  }
  return exitCode;
}

/** `start --log-max-size` / `--log-max-files`, checked like their YAML attributes. */
function logOverrides(opts: { logMaxSize?: string; logMaxFiles?: string }): Partial<DskeConfig> {
  const out: { log_max_size?: string; log_max_files?: number } = {};
  if (opts.logMaxSize !== undefined) {
    const r = logMaxSizeSchema.safeParse(opts.logMaxSize);
    if (!r.success) throw new CliError(`--log-max-size '${opts.logMaxSize}': ${r.error.issues[0].message}, e.g. --log-max-size 10M`, 2);
    out.log_max_size = r.data;
  }
  if (opts.logMaxFiles !== undefined) {
    const r = logMaxFilesSchema.safeParse(/^\d+$/.test(opts.logMaxFiles) ? Number(opts.logMaxFiles) : NaN);
    if (!r.success) throw new CliError(`--log-max-files '${opts.logMaxFiles}': ${r.error.issues[0].message}, e.g. --log-max-files 5`, 2);
    out.log_max_files = r.data;
  }
  return out;
}

/** A `certs --san` value: an IP address or a DNS name. */
function checkSan(value: string): string {
  const v = value.trim();
  const ip = isIP(v.replace(/^\[(.*)\]$/, "$1")) !== 0;
  if (!ip && !/^(?=.{1,253}$)[A-Za-z0-9*]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(v)) {
    throw new CliError(`--san '${value}': expected a host name or an IP address (e.g. --san kme1.example.org --san 10.0.0.21)`, 2);
  }
  return v;
}

/** Each SAE's certificate when the topology runs with TLS (recorded in the state dir). */
function saeTls(ctx: Context): EtsiCallerTls | undefined {
  if (!tlsEnabled(ctx.state.root)) return undefined;
  const layout = certLayout(ctx.state.root);
  return {
    ca: readTlsMaterial(layout, layout.operator).ca,
    identity: (sae) => readTlsMaterial(layout, layout.sae(sae)),
  };
}

function handleError(err: unknown, out: Output): number {
  if (err instanceof CommanderError) {
    // Help and version are "errors" with exit code 0; commander already printed its message.
    return err.exitCode === 0 ? 0 : 2;
  }
  if (err instanceof ConfigError) {
    out.error(`dske-cli: ${err.message}`);
    return 2;
  }
  if (err instanceof UnknownNodeError) {
    out.error(`dske-cli: ${err.message}`);
    return 2;
  }
  if (err instanceof CliError) {
    out.error(`dske-cli: ${err.message}`);
    return err.exitCode;
  }
  // why: anything else is a bug; show it plainly, without a stack trace unless asked.
  const e = err instanceof Error ? err : new Error(String(err));
  out.error(`dske-cli: unexpected error: ${e.message}`);
  if (process.env.DSKE_DEBUG) out.error(e.stack ?? "");
  return 1;
}
