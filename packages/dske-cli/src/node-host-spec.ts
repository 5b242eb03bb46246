/**
 * What a node host runs (`processes: shared`): several hubs and clients of one state dir in one
 * Node process, each with the command line it would have on its own (node-command.ts), its own
 * log file, port, state dir and pid file. dske-cli writes the spec to `<state>/hosts/FIRST.json`
 * (mode 0600; it holds file paths, no secret) and spawns `node dist/node-host.js SPEC NAME...`:
 * the node names are on the command line so that `isNodeProcessAlive(pid, NAME)` recognises the
 * host as each of its nodes.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";

export const hostedNodeSchema = z.object({
  name: z.string().min(1),
  kind: z.enum(["hub", "client"]),
  /** The node's server arguments (what `dist/server.js` of its package would get). */
  args: z.array(z.string()),
  /** Its pid file: the host removes it when the node stops while the host goes on. */
  pidFile: z.string().min(1),
});
export type HostedNode = z.infer<typeof hostedNodeSchema>;

export const nodeHostSpecSchema = z.object({ nodes: z.array(hostedNodeSchema).min(1) });
export type NodeHostSpec = z.infer<typeof nodeHostSpecSchema>;

/** Read and check a spec file; the error names the file and what is wrong. */
export function readNodeHostSpec(file: string): NodeHostSpec {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`node host spec ${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  return checked(nodeHostSpecSchema, raw, `node host spec ${file}`);
}

/** `raw` as `schema` says, or an error `WHAT: PATH: PROBLEM` naming its first problem. */
export function checked<T>(schema: z.ZodType<T>, raw: unknown, what: string): T {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${what}: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  return parsed.data;
}

/**
 * What dske-cli hands a standby host (standby-host.ts) on its stdin: the arguments a fresh host
 * would get (spec file, node names), the command line it would show, its working directory, and
 * the file its stdout and stderr would go to.
 */
export const standbyHandoverSchema = z.object({
  argv: z.array(z.string().min(1)).min(2),
  title: z.string().min(1),
  cwd: z.string().min(1),
  output: z.string().min(1),
});
export type StandbyHandover = z.infer<typeof standbyHandoverSchema>;
