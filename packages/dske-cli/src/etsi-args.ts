/**
 * The `etsi-qkd` command line as users type it: the reference puts the SAEs before the operation
 * (`etsi-qkd sam sunny get-key`), commander wants the subcommand first, so the words are moved
 * (`etsi-qkd get-key sam sunny`). An operation that is missing or misspelt (`get-keys`) is a usage
 * error with the right usage and the nearest operation, not commander's "unknown command 'sam'".
 */
import { CliError } from "./errors";
import { ETSI_OPERATIONS } from "./etsi-command";

/** Options of the global command that take a value (to find the `etsi-qkd` token in argv). */
const VALUE_OPTIONS = new Set(["--config", "--client", "--hub", "--state-dir", "--timeout"]);

export const ETSI_USAGE = `dske-cli etsi-qkd MASTER_SAE SLAVE_SAE ${ETSI_OPERATIONS.join("|")} [options]`;

const isOperation = (word: string | undefined): boolean => word !== undefined && (ETSI_OPERATIONS as readonly string[]).includes(word);

/** Levenshtein distance (short words: the operation names). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}

/** The operation closest to a misspelt one (within 3 edits); undefined when none is that close. */
export function nearestOperation(word: string): string | undefined {
  const ranked = ETSI_OPERATIONS.map((op) => ({ op, d: distance(word.toLowerCase(), op) })).sort((x, y) => x.d - y.d);
  return ranked[0].d <= 3 ? ranked[0].op : undefined;
}

function usageError(problem: string): CliError {
  return new CliError(`etsi-qkd: ${problem}\nusage: ${ETSI_USAGE}\n(add --help for the operations and their options)`, 2);
}

/**
 * `etsi-qkd MASTER SLAVE OP ...` → `etsi-qkd OP MASTER SLAVE ...`; other command lines unchanged.
 * Throws a usage CliError (exit 2) when the SAEs are given but the operation is missing or unknown.
 */
export function reorderEtsiArgs(argv: readonly string[]): string[] {
  const args = [...argv];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (VALUE_OPTIONS.has(a)) {
      i++;
      continue;
    }
    if (a.startsWith("-")) continue;
    if (a !== "etsi-qkd") return args; // another command
    const [m, s, op] = [args.at(i + 1), args.at(i + 2), args.at(i + 3)];
    // `etsi-qkd`, `etsi-qkd --help`, `etsi-qkd get-key sam sunny`, `etsi-qkd help get-key`: commander's own forms.
    if (m === undefined || m.startsWith("-") || isOperation(m) || m === "help") return args;
    if (isOperation(s)) throw usageError(`missing SLAVE_SAE before the operation ${String(s)}`);
    if (s === undefined || s.startsWith("-")) throw usageError(`missing SLAVE_SAE and the operation after MASTER_SAE '${m}'`);
    if (op === undefined || op.startsWith("-")) throw usageError(`missing operation after '${m} ${s}'`);
    if (!isOperation(op)) {
      const near = nearestOperation(op);
      throw usageError(`unknown operation '${op}'${near ? ` (did you mean ${near}?)` : ""}`);
    }
    args.splice(i + 1, 3, op, m, s);
    return args;
  }
  return args;
}

/** How `etsi-qkd --help` lists an operation: `MASTER_SAE SLAVE_SAE get-key [options]`, as it is typed. */
export function etsiOperationTerm(cmd: {
  name(): string;
  options: readonly unknown[];
  registeredArguments: readonly { name(): string; variadic: boolean }[];
}): string {
  const name = cmd.name();
  if (!isOperation(name)) return `${name} [command]`; // commander's `help [command]`
  const extra = cmd.registeredArguments.slice(2).map((a) => `${a.name()}${a.variadic ? "..." : ""}`);
  return ["MASTER_SAE", "SLAVE_SAE", name, ...extra, ...(cmd.options.length > 0 ? ["[options]"] : [])].join(" ");
}
