/**
 * Where PostgreSQL's server programs are: `initdb` on PATH, or Debian's layout
 * (/usr/lib/postgresql/<version>/bin, outside PATH), highest version first. `pg_ctl` and
 * `postgres` are taken from the directory `initdb` really lives in (PATH entries are often links).
 */
import { existsSync, readdirSync, realpathSync } from "node:fs";
import path from "node:path";

export interface PgBinaries {
  readonly initdb: string;
  readonly pgCtl: string;
  readonly binDir: string;
}

const DEBIAN_ROOT = path.join(path.sep, "usr", "lib", "postgresql");

export const MISSING_POSTGRES_MESSAGE =
  "PostgreSQL's initdb was not found (neither on PATH nor under /usr/lib/postgresql/*/bin): run scripts/install-system-deps.sh (it installs Debian's postgresql package)";

function fromPath(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (dir === "") continue;
    const candidate = path.join(dir, "initdb");
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

function fromDebian(): string | undefined {
  if (!existsSync(DEBIAN_ROOT)) return undefined;
  const versions = readdirSync(DEBIAN_ROOT)
    .filter((v) => existsSync(path.join(DEBIAN_ROOT, v, "bin", "initdb")))
    .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
  return versions.length === 0 ? undefined : path.join(DEBIAN_ROOT, versions[0], "bin", "initdb");
}

/** The server programs, or undefined when PostgreSQL is not installed. */
export function findPgBinaries(): PgBinaries | undefined {
  const found = fromPath() ?? fromDebian();
  if (found === undefined) return undefined;
  const binDir = path.dirname(realpathSync(found));
  const pgCtl = path.join(binDir, "pg_ctl");
  if (!existsSync(pgCtl)) return undefined;
  return { initdb: path.join(binDir, "initdb"), pgCtl, binDir };
}

/** The server programs, or an error that says how to install them. */
export function requirePgBinaries(): PgBinaries {
  const b = findPgBinaries();
  if (b === undefined) throw new Error(MISSING_POSTGRES_MESSAGE);
  return b;
}
