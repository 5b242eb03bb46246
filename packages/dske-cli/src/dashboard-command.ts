/**
 * `dske-cli dashboard [--port P] [--host H] [--interval MS]`: validate the options, serve the
 * live dashboard, print `dashboard on http://H:P/?token=...` (the one-time login link), and run until SIGINT/SIGTERM (or `stop`).
 */
import { isIP } from "node:net";
import { z } from "zod";
import { startDashboardServer } from "./dashboard-server";
import { CliError } from "./errors";
import type { OperatorCredential } from "./mgmt";
import type { Output } from "./output";
import type { Topology } from "./topology";

export const DASHBOARD_DEFAULTS = { port: 8090, host: "127.0.0.1", interval: 1000 } as const;

/** 127.0.0.0/8, ::1 or localhost (the same rule as the nodes' plain-HTTP bind check in @dske/hub). */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  if (h === "localhost") return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  return h === "::1" || h === "0:0:0:0:0:0:0:1";
}

const intString = (what: string, min: number, max: number) =>
  z.union([z.number(), z.string()]).transform((v, ctx) => {
    const n = typeof v === "number" ? v : /^\d+$/.test(v.trim()) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      ctx.addIssue({ code: "custom", message: `expected ${what} (an integer from ${min} to ${max}), got '${String(v)}'` });
      return z.NEVER;
    }
    return n;
  });

export const dashboardOptionsSchema = z.object({
  port: intString("a TCP port; 0 picks a free one", 0, 65535).default(DASHBOARD_DEFAULTS.port),
  host: z
    .string()
    .trim()
    .min(1, { error: "expected a host name or IP address" })
    .regex(/^[A-Za-z0-9.:_-]+$/, { error: "expected a host name or IP address (letters, digits, '.', ':', '-')" })
    .refine(isLoopback, {
      error: "the dashboard shows SAE pairs and PSRD levels: bind it to a loopback address (127.0.0.1, ::1 or localhost)",
    })
    .default(DASHBOARD_DEFAULTS.host),
  interval: intString("a poll interval in milliseconds", 100, 60_000).default(DASHBOARD_DEFAULTS.interval),
});
export type DashboardOptions = z.infer<typeof dashboardOptionsSchema>;

/** Parse commander's option values; bad values become a CliError with exit code 2 (bad usage). */
export function parseDashboardOptions(raw: unknown): DashboardOptions {
  const r = dashboardOptionsSchema.safeParse(raw);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => `--${i.path.join(".")}: ${i.message}`);
  throw new CliError(`invalid dashboard option: ${issues.join("; ")}`, 2);
}

/** Resolves on SIGINT/SIGTERM or when `signal` aborts; removes its listeners afterwards. */
function untilStopped(signal?: AbortSignal): Promise<string> {
  return new Promise((resolve) => {
    const done = (why: string) => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      signal?.removeEventListener("abort", onAbort);
      resolve(why);
    };
    const onInt = () => done("SIGINT");
    const onTerm = () => done("SIGTERM");
    const onAbort = () => done("stop requested");
    process.once("SIGINT", onInt);
    process.once("SIGTERM", onTerm);
    if (signal?.aborted) done("stop requested");
    else signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export interface DashboardCommandContext {
  readonly topology: Topology;
  readonly out: Output;
  /** The operator token, and the operator certificate when the topology's clients run with mutual TLS. */
  readonly credential?: OperatorCredential;
  /** Stops the dashboard like SIGINT does (in-process callers and tests). */
  readonly stopSignal?: AbortSignal;
}

export async function runDashboard(ctx: DashboardCommandContext, options: DashboardOptions): Promise<void> {
  let server;
  try {
    server = await startDashboardServer(ctx.topology, {
      host: options.host,
      port: options.port,
      pollMs: options.interval,
      credential: ctx.credential,
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === "EADDRINUSE")
      throw new CliError(`cannot serve the dashboard: port ${options.port} on ${options.host} is in use (choose another with --port)`);
    if (e.code === "EADDRNOTAVAIL" || e.code === "ENOTFOUND" || e.code === "EAI_AGAIN") {
      throw new CliError(`cannot serve the dashboard: cannot bind ${options.host} (${e.code})`, 2);
    }
    throw new CliError(`cannot serve the dashboard: ${e.message}`);
  }
  ctx.out.line(`dashboard on ${server.loginUrl}`);
  ctx.out.line("(open that link once: it sets the session cookie of this dashboard and cannot be used again)");
  const why = await untilStopped(ctx.stopSignal);
  await server.close();
  ctx.out.line(`dashboard stopped (${why})`);
}
