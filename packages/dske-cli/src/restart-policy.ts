/**
 * The restart policy of crashed nodes (`restart:` in dske-config.yaml, `start --restart POLICY`):
 * `no` (default), `on-failure` (restart after a crash: a non-zero exit code, a signal other than
 * SIGTERM/SIGINT/SIGHUP, or a process that vanished without `dske-cli stop`), or `always` (also
 * after a clean exit). Restarts wait `backoff_ms`, doubled per consecutive crash up to
 * `max_backoff_ms`; after `max_restarts` consecutive crashes the node stays down and shows
 * `crashed`. A node that stays up `stable_after_ms` starts a new series (delay and count reset).
 */
import { z } from "zod";

export const RESTART_POLICIES = ["no", "on-failure", "always"] as const;
export type RestartPolicyName = (typeof RESTART_POLICIES)[number];

export const RESTART_DEFAULTS = {
  policy: "no",
  max_restarts: 5,
  backoff_ms: 1000,
  max_backoff_ms: 30_000,
  stable_after_ms: 60_000,
} as const;

export interface RestartPolicy {
  readonly policy: RestartPolicyName;
  readonly max_restarts: number;
  readonly backoff_ms: number;
  readonly max_backoff_ms: number;
  readonly stable_after_ms: number;
}

const policyName = z.enum(RESTART_POLICIES, { error: `expected ${RESTART_POLICIES.join(", ")} (the restart policy of crashed nodes)` });

function ms(min: number, max: number, what: string) {
  const fix = `expected ${what} (an integer from ${min} to ${max})`;
  return z.number({ error: fix }).int({ error: fix }).min(min, { error: fix }).max(max, { error: fix });
}

const longForm = z.strictObject(
  {
    policy: policyName.default(RESTART_DEFAULTS.policy),
    max_restarts: ms(0, 1000, "a number of consecutive restarts").default(RESTART_DEFAULTS.max_restarts),
    backoff_ms: ms(10, 3_600_000, "milliseconds before the first restart").default(RESTART_DEFAULTS.backoff_ms),
    max_backoff_ms: ms(10, 3_600_000, "milliseconds, the longest wait between restarts").default(RESTART_DEFAULTS.max_backoff_ms),
    stable_after_ms: ms(1000, 86_400_000, "milliseconds of uptime after which a crash starts a new series").default(
      RESTART_DEFAULTS.stable_after_ms,
    ),
  },
  {
    error:
      "expected no, on-failure or always, or a mapping like `{policy: on-failure, max_restarts: 5, backoff_ms: 1000, max_backoff_ms: 30000}`",
  },
);

/** `restart: on-failure` (the policy with default limits), or the long form with limits; absent: `no`. */
export const restartSchema = z.preprocess(
  (v) => (v === undefined || v === null ? {} : typeof v === "string" ? { policy: v } : v),
  longForm,
) as z.ZodType<RestartPolicy>;

/** The policy with `start --restart POLICY` (if given) in place of the configured one. */
export function withPolicy(p: RestartPolicy, override: RestartPolicyName | undefined): RestartPolicy {
  return override === undefined ? p : { ...p, policy: override };
}

/** How a node process ended (undefined members: not known). */
export interface ExitInfo {
  readonly code: number | null;
  readonly signal: string | null;
}

/** Signals that end a node cleanly (as systemd's Restart=on-failure counts them). */
const CLEAN_SIGNALS = new Set(["SIGTERM", "SIGINT", "SIGHUP"]);

/** Does this end call for a restart under `policy`? An unknown end (process vanished) counts as a crash. */
export function wantsRestart(policy: RestartPolicyName, exit: ExitInfo | undefined): boolean {
  if (policy === "no") return false;
  if (policy === "always") return true;
  if (exit === undefined) return true;
  if (exit.signal !== null) return !CLEAN_SIGNALS.has(exit.signal);
  return exit.code !== 0;
}

/** The wait before restart number `n` of a series (1-based): backoff_ms × 2^(n−1), at most max_backoff_ms. */
export function backoffMs(p: RestartPolicy, n: number): number {
  return Math.min(p.max_backoff_ms, p.backoff_ms * 2 ** Math.max(0, n - 1));
}

/** "exit code 3", "killed by SIGKILL", or "exit status unknown". */
export function describeExit(exit: ExitInfo | undefined): string {
  if (exit === undefined) return "exit status unknown";
  if (exit.signal !== null) return `killed by ${exit.signal}`;
  return `exit code ${exit.code ?? "?"}`;
}
