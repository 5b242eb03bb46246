/**
 * A throwaway PostgreSQL cluster for tests and benches: `initdb` in a fresh directory under
 * os.tmpdir(), its own port (TCP on 127.0.0.1 only) and its own unix socket directory (inside the
 * temporary directory), default fsync settings, trust authentication for the local superuser
 * `postgres`. Stopped and removed by `stop()` (and, as a last resort, when the process exits).
 *
 * initdb and postgres refuse to run as root: when we are root, every server program runs as the
 * unprivileged user `postgres` (created by Debian's package) or else `nobody`, and the directory is
 * chown'ed to it. The cluster Debian's package may have created (and its service) is not used.
 */
import { spawn, spawnSync } from "node:child_process";
import { appendFileSync, chownSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { requirePgBinaries, type PgBinaries } from "./pg-binaries.js";

export interface ThrowawayClusterOptions {
  /** TCP port on 127.0.0.1 (each test file its own). */
  port: number;
  /** Extra postgresql.conf lines (`name = value`). */
  settings?: Record<string, string | number>;
}

export interface ThrowawayCluster {
  /** Connection URL of the `postgres` database as the superuser `postgres`. */
  readonly url: string;
  readonly port: number;
  /** The cluster's data directory (PGDATA: heap files, pg_wal, ...). */
  readonly dataDir: string;
  /** `pg_ctl stop -m fast`: the server goes down, the data stays (for a restart test). */
  pgStop(): Promise<void>;
  /** `pg_ctl start` of a stopped cluster (same port, same data). */
  pgStart(): Promise<void>;
  /** pgStop + pgStart. */
  restart(): Promise<void>;
  /** Run SQL through psql (as the superuser), returning stdout. For test assertions and setup. */
  psql(sql: string, database?: string): string;
  /** Stop the server and remove the directory. Idempotent. */
  stop(): Promise<void>;
}

interface RunAs {
  uid: number;
  gid: number;
}

/** The unprivileged user to run the server as, when we are root (undefined otherwise). */
function unprivilegedUser(): RunAs | undefined {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return undefined;
  const passwd = readFileSync(path.join(path.sep, "etc", "passwd"), "utf8").split("\n");
  for (const name of ["postgres", "nobody"]) {
    const line = passwd.find((l) => l.startsWith(`${name}:`));
    if (line === undefined) continue;
    const [, , uid, gid] = line.split(":");
    return { uid: Number(uid), gid: Number(gid) };
  }
  throw new Error("running as root and neither user postgres nor nobody exists: initdb refuses to run as root");
}

function run(bins: PgBinaries, runAs: RunAs | undefined, program: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(bins.binDir, program), args, {
      ...(runAs ?? {}),
      env: { ...process.env, LC_ALL: "C", LANG: "C" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve();
      else reject(new Error(`${program} ${args.join(" ")} exited with ${code}: ${output.trim()}`));
    });
  });
}

/** Start a fresh cluster. Call in beforeAll; call `stop()` in afterAll. */
export async function startThrowawayCluster(options: ThrowawayClusterOptions): Promise<ThrowawayCluster> {
  const bins = requirePgBinaries();
  const runAs = unprivilegedUser();
  const root = mkdtempSync(path.join(os.tmpdir(), "dske-pg-"));
  if (runAs !== undefined) chownSync(root, runAs.uid, runAs.gid);
  const dataDir = path.join(root, "data");
  const logFile = path.join(root, "server.log");
  const port = options.port;
  let stopped = false;
  let running = false;

  const pgCtl = (args: string[]) => run(bins, runAs, "pg_ctl", ["-D", dataDir, ...args]);
  const emergencyStop = () => {
    if (running) spawnSync(bins.pgCtl, ["-D", dataDir, "stop", "-m", "immediate"], { ...(runAs ?? {}), stdio: "ignore" });
    rmSync(root, { recursive: true, force: true });
  };

  try {
    await run(bins, runAs, "initdb", ["-D", dataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"]);
    const conf = [
      `port = ${port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${root}'`,
      "max_connections = 100",
      // Small: test files run in parallel, each with its own cluster.
      "shared_buffers = '32MB'",
      ...Object.entries(options.settings ?? {}).map(([k, v]) => `${k} = ${typeof v === "number" ? v : `'${v}'`}`),
    ];
    appendFileSync(path.join(dataDir, "postgresql.conf"), `\n# dske throwaway cluster\n${conf.join("\n")}\n`);
    process.once("exit", emergencyStop);
    await pgCtl(["-l", logFile, "-w", "-t", "60", "start"]);
    running = true;
  } catch (e) {
    process.removeListener("exit", emergencyStop);
    emergencyStop();
    throw e;
  }

  const cluster: ThrowawayCluster = {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    async pgStop() {
      await pgCtl(["-w", "-t", "60", "-m", "fast", "stop"]);
      running = false;
    },
    async pgStart() {
      await pgCtl(["-l", logFile, "-w", "-t", "60", "start"]);
      running = true;
    },
    async restart() {
      await cluster.pgStop();
      await cluster.pgStart();
    },
    psql(sql: string, database = "postgres") {
      const r = spawnSync(
        path.join(bins.binDir, "psql"),
        ["-h", root, "-p", String(port), "-U", "postgres", "-d", database, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql],
        {
          encoding: "utf8",
        },
      );
      if (r.status !== 0) throw new Error(`psql failed: ${r.stderr || String(r.error)}`);
      return r.stdout;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      process.removeListener("exit", emergencyStop);
      try {
        if (running) await pgCtl(["-w", "-t", "60", "-m", "fast", "stop"]);
        running = false;
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    },
  };
  return cluster;
}
