/**
 * TLS 1.3 with an external pre-shared key, by the `openssl` command line tools:
 *
 *   receiver: openssl s_server -accept HOST:PORT -nocert -psk HEX -psk_identity ID -tls1_3
 *               -ciphersuites TLS_AES_128_GCM_SHA256 -naccept 1 -quiet      > out-file
 *   sender:   openssl s_client -connect HOST:PORT -psk HEX -psk_identity ID -tls1_3
 *               -ciphersuites TLS_AES_128_GCM_SHA256 -quiet -no_ign_eof -nocommands < in-file
 *
 * `-nocert`: the server has no certificate, so only a PSK handshake can succeed (a wrong key fails
 * the PSK binder check). `-nocommands`: s_client must not read lines starting with Q/R/k/K from
 * the (binary) input as commands. `-no_ign_eof`: the client closes the connection at the end of
 * its input, and `-naccept 1` ends the server after that one connection. The server's stdin is
 * kept open (s_server also ends on EOF of its own stdin). Every process has a time limit.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync } from "node:fs";

export const CIPHERSUITE = "TLS_AES_128_GCM_SHA256";

export class OpensslMissingError extends Error {
  override readonly name = "OpensslMissingError";
}

/** `openssl version`, or a clear error when openssl is not installed. */
export function opensslVersion(): string {
  try {
    return execFileSync("openssl", ["version"], { encoding: "utf8", timeout: 10_000 }).trim();
  } catch (err) {
    throw new OpensslMissingError(
      `openssl is not available (${(err as Error).message}); install it with scripts/install-system-deps.sh (apt-get install openssl)`,
    );
  }
}

export interface PskParams {
  /** The pre-shared key (here: a DSKE key). At least 16 bytes. */
  readonly psk: Buffer;
  /** The PSK identity the client sends in its ClientHello (here: the ETSI key_ID). */
  readonly identity: string;
}

function pskArgs(p: PskParams): string[] {
  if (p.psk.length < 16) throw new RangeError("a PSK of at least 16 bytes is expected");
  if (!/^[\x21-\x7e]{1,128}$/.test(p.identity)) throw new RangeError("the PSK identity must be 1-128 printable ASCII characters");
  // why: openssl takes the PSK in hex on its command line (see README: visible to local users in `ps`).
  return ["-psk", p.psk.toString("hex"), "-psk_identity", p.identity, "-tls1_3", "-ciphersuites", CIPHERSUITE];
}

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
  /** Killed because it ran past its time limit. */
  readonly timedOut: boolean;
}

/** Wait for a child to exit (SIGKILL after `timeoutMs`), collecting its stderr. */
function supervise(child: ChildProcess, timeoutMs: number): Promise<RunResult> {
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (d: string) => {
    if (stderr.length < 64 * 1024) stderr += d;
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, timeoutMs);
  return new Promise((resolve) => {
    child.once("error", (err) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, stderr: `${stderr}${err.message}`, timedOut });
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr, timedOut });
    });
  });
}

export interface ReceiveOptions extends PskParams {
  readonly host?: string;
  readonly port: number;
  /** Where the received bytes go. */
  readonly outFile: string;
  /** Time limit for the whole receive (default 30 s). */
  readonly timeoutMs?: number;
}

/** A running `openssl s_server` that writes what one PSK client sends into a file. */
export class PskFileReceiver {
  /** Resolves when the server exited (after one connection, or killed). */
  readonly done: Promise<RunResult>;
  private readonly child: ChildProcess;

  constructor(opts: ReceiveOptions) {
    const out = openSync(opts.outFile, "w");
    try {
      this.child = spawn(
        "openssl",
        ["s_server", "-accept", `${opts.host ?? "127.0.0.1"}:${opts.port}`, "-nocert", ...pskArgs(opts), "-naccept", "1", "-quiet"],
        // stdin stays an open pipe: s_server ends its connection on EOF of its own input.
        { stdio: ["pipe", out, "pipe"] },
      );
    } finally {
      closeSync(out);
    }
    this.done = supervise(this.child, opts.timeoutMs ?? 30_000);
  }

  /** Stop the server if it still runs (a failed handshake, an aborted run). */
  async stop(): Promise<RunResult> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGTERM");
    return this.done;
  }
}

export interface SendOptions extends PskParams {
  readonly host?: string;
  readonly port: number;
  readonly inFile: string;
  /** Time limit for one attempt (default 30 s). */
  readonly timeoutMs?: number;
  /** Retry while the server is not listening yet, up to this long (default 10 s). */
  readonly connectWithinMs?: number;
}

function refused(r: RunResult): boolean {
  return /errno=111|Connection refused|connect:errno/i.test(r.stderr);
}

/** Send a file with `openssl s_client` over TLS 1.3 with the PSK; resolves with how s_client ended. */
export async function sendFile(opts: SendOptions): Promise<RunResult> {
  const deadline = Date.now() + (opts.connectWithinMs ?? 10_000);
  for (;;) {
    const input = openSync(opts.inFile, "r");
    let child: ChildProcess;
    try {
      child = spawn(
        "openssl",
        ["s_client", "-connect", `${opts.host ?? "127.0.0.1"}:${opts.port}`, ...pskArgs(opts), "-quiet", "-no_ign_eof", "-nocommands"],
        { stdio: [input, "ignore", "pipe"] },
      );
    } finally {
      closeSync(input);
    }
    const r = await supervise(child, opts.timeoutMs ?? 30_000);
    // Not listening yet: nothing was accepted, so the server's one connection is still unused.
    if (r.code !== 0 && refused(r) && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 100));
      continue;
    }
    return r;
  }
}
