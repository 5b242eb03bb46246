/**
 * The encryptor agent's command line, checked with zod: a bad option is named with what it
 * expects, never a stack trace.
 *
 *   agent --role master --sae sam --peer-sae sunny --kme URL --interface wgA0 --peer-public-key PUB
 *         --peer-agent http://ADDR:PORT [--interval 5] [--no-rehandshake]
 *   agent --role slave  --sae sunny --peer-sae sam --kme URL --interface wgB0 --peer-public-key PUB
 *         --listen ADDR:PORT
 */
import { parseArgs } from "node:util";
import { z } from "zod";

const common = {
  sae: z.string({ error: "expected --sae NAME (this encryptor's SAE ID)" }).min(1),
  peerSae: z.string({ error: "expected --peer-sae NAME (the other end's SAE ID)" }).min(1),
  kme: z.url({ error: "expected --kme URL (this SAE's KME ETSI base, e.g. http://10.0.0.1:19805/client/carol/etsi)" }),
  iface: z.string({ error: "expected --interface NAME (the WireGuard interface)" }).regex(/^[A-Za-z0-9_.-]{1,15}$/, {
    error: "expected --interface NAME of 1-15 letters, digits, '_', '.' or '-'",
  }),
  peerPublicKey: z
    .string({ error: "expected --peer-public-key KEY (the WireGuard peer's public key, base64)" })
    .regex(/^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw480]=$/, { error: "expected --peer-public-key as 44 base64 characters (wg pubkey)" }),
};

const MasterSchema = z.object({
  role: z.literal("master"),
  ...common,
  peerAgent: z.url({ error: "expected --peer-agent URL (the slave agent, e.g. http://10.0.0.11:19810)" }),
  intervalSeconds: z.coerce
    .number({ error: "expected --interval SECONDS" })
    .min(1, { error: "expected --interval of at least 1 second" })
    .max(86_400, { error: "expected --interval of at most 86400 seconds" }),
  rehandshake: z.boolean(),
});

const SlaveSchema = z.object({
  role: z.literal("slave"),
  ...common,
  listen: z.string({ error: "expected --listen ADDR:PORT (where the master agent reaches this one)" }).regex(/^[0-9.]+:\d{1,5}$/, {
    error: "expected --listen as IPv4:PORT, e.g. 10.0.0.11:19810",
  }),
});

export const AgentOptionsSchema = z.discriminatedUnion("role", [MasterSchema, SlaveSchema], {
  error: "expected --role master or --role slave",
});
export type AgentOptions = z.infer<typeof AgentOptionsSchema>;
export type MasterOptions = z.infer<typeof MasterSchema>;
export type SlaveOptions = z.infer<typeof SlaveSchema>;

/** Parse argv (without node and the script); throws an Error whose message lists every problem. */
export function parseAgentOptions(argv: readonly string[]): AgentOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        role: { type: "string" },
        sae: { type: "string" },
        "peer-sae": { type: "string" },
        kme: { type: "string" },
        interface: { type: "string" },
        "peer-public-key": { type: "string" },
        "peer-agent": { type: "string" },
        interval: { type: "string", default: "5" },
        "no-rehandshake": { type: "boolean", default: false },
        listen: { type: "string" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw new Error(`agent: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const parsed = AgentOptionsSchema.safeParse({
    role: values.role,
    sae: values.sae,
    peerSae: values["peer-sae"],
    kme: values.kme,
    iface: values.interface,
    peerPublicKey: values["peer-public-key"],
    peerAgent: values["peer-agent"],
    intervalSeconds: values.interval,
    rehandshake: values["no-rehandshake"] !== true,
    listen: values.listen,
  });
  if (!parsed.success) throw new Error(`agent: ${parsed.error.issues.map((i) => i.message).join("; ")}`);
  return parsed.data;
}
