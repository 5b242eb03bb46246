/**
 * Layout of the state directory (default `.dske` next to the config file):
 *
 *   <state>/kme-directory.json   {sae_id: client_name} for every encryptor (read by clients)
 *   <state>/operator-token       the operator token (64 hex + newline, mode 0600; operator-token.ts)
 *   <state>/logs/NAME.log        node NAME's log, JSON lines (appended across restarts; rotated to NAME.log.1 ...)
 *   <state>/pids/NAME.pid        pid of node NAME's background process while it runs
 *   <state>/nodes/NAME/          the node's own durable state (its --state-dir)
 *   <state>/nodes/NAME/inbox/    PSRD bundles waiting to be installed by client NAME
 *   <state>/nodes/NAME/outbox/   PSRD bundles issued by hub NAME, not yet carried away
 *   <state>/distribution.json    the hubs' local distributors' plan (clients, URLs, inboxes)
 */
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { operatorTokenPath } from "./operator-token";

export class StateDir {
  constructor(readonly root: string) {}

  get operatorTokenFile(): string {
    return operatorTokenPath(this.root);
  }
  get kmeDirectoryFile(): string {
    return path.join(this.root, "kme-directory.json");
  }
  logFile(name: string): string {
    return path.join(this.root, "logs", `${name}.log`);
  }
  pidFile(name: string): string {
    return path.join(this.root, "pids", `${name}.pid`);
  }
  nodeDir(name: string): string {
    return path.join(this.root, "nodes", name);
  }

  get distributionPlanFile(): string {
    return path.join(this.root, "distribution.json");
  }
  inboxDir(clientName: string): string {
    return path.join(this.nodeDir(clientName), "inbox");
  }

  /** Write the distribution plan atomically. */
  writeDistributionPlan(plan: { clients: { name: string; url: string; inbox: string }[] }): void {
    this.ensure();
    const tmp = `${this.distributionPlanFile}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(plan, null, 2)}\n`);
    renameSync(tmp, this.distributionPlanFile);
  }

  /** Create logs/, pids/ and nodes/. */
  ensure(): void {
    for (const d of ["logs", "pids", "nodes"]) mkdirSync(path.join(this.root, d), { recursive: true });
  }

  /** Write the KME directory atomically (write + rename), so a starting client never reads half a file. */
  writeKmeDirectory(directory: Record<string, string>): void {
    this.ensure();
    const tmp = `${this.kmeDirectoryFile}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(directory, null, 2)}\n`);
    renameSync(tmp, this.kmeDirectoryFile);
  }
}
