/**
 * `dske-cli systemd --out DIR [--user] [--prefix P] [--on HOST]...`: prepare the state directory
 * as `start` would (operator token, KME directory, distribution plan, TLS certificates when the
 * topology uses TLS) and write one service unit per node of this host plus `PREFIX.target` into
 * DIR (systemd-units.ts). Installing them is left to the operator (printed next steps).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ensureCertificates, setTlsEnabled } from "./certs";
import { certSansFor } from "./cert-sans";
import { CliError } from "./errors";
import { distributionPlan, type ServerScripts } from "./node-command";
import { ensureOperatorToken } from "./operator-token";
import type { Output } from "./output";
import type { ProcessManager } from "./process-manager";
import type { RestartPolicy } from "./restart-policy";
import type { StateDir } from "./state-dir";
import { systemdUnits } from "./systemd-units";
import { isExternal, type Topology } from "./topology";

export interface SystemdCommandOptions {
  readonly out: string;
  readonly user: boolean;
  readonly prefix: string;
}

const PREFIX_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export async function writeSystemdUnits(
  ctx: {
    topology: Topology;
    state: StateDir;
    manager: ProcessManager;
    configFile: string;
    tls: boolean;
    restart: RestartPolicy;
    scripts?: ServerScripts;
  },
  o: SystemdCommandOptions,
  out: Output,
): Promise<void> {
  if (!PREFIX_RE.test(o.prefix)) {
    throw new CliError(`--prefix '${o.prefix}': expected letters, digits, '.', '_' or '-' (a unit name prefix, e.g. --prefix dske-lab)`, 2);
  }
  const { topology, state } = ctx;
  const nodes = topology.nodes.filter((n) => !isExternal(n) && ctx.manager.isLocal(n));
  if (nodes.length === 0) {
    throw new CliError("no node of the topology is placed on this host (use --on HOST to name this machine's host)", 1);
  }
  ensureOperatorToken(state.root);
  state.ensure();
  state.writeKmeDirectory(topology.kmeDirectory());
  state.writeDistributionPlan(distributionPlan(topology, state, ctx.tls));
  if (ctx.tls) {
    await ensureCertificates(state.root, {
      clients: topology.clients.filter((c) => !isExternal(c)).map((c) => c.name),
      hubs: topology.hubs.filter((h) => !isExternal(h)).map((h) => h.name),
      saes: topology.allEncryptors(),
      sans: certSansFor(topology, state.root),
    });
    setTlsEnabled(state.root, true);
  }
  const units = systemdUnits({
    topology,
    state,
    nodes,
    tls: ctx.tls,
    user: o.user,
    prefix: o.prefix,
    restart: ctx.restart,
    scripts: ctx.scripts,
    configFile: ctx.configFile,
  });
  const dir = path.resolve(o.out);
  mkdirSync(dir, { recursive: true });
  for (const u of units) writeFileSync(path.join(dir, u.name), u.text);
  const ctl = o.user ? "systemctl --user" : "systemctl";
  const target = o.user ? "~/.config/systemd/user" : "/etc/systemd/system";
  out.line(`Wrote ${units.length} unit(s) to ${dir}: ${units.map((u) => u.name).join(", ")}`);
  out.line(`Install: cp ${path.join(dir, "*")} ${target}/ && ${ctl} daemon-reload && ${ctl} enable --now ${o.prefix}.target`);
  out.line(
    `Status: ${ctl} status '${o.prefix}-*' (dske-cli status works too); logs: journalctl${o.user ? " --user" : ""} -u ${o.prefix}-client-NAME`,
  );
}
