/**
 * `etsi_anonymous_single_sae` in the topology (top level or per client): which clients get
 * `--allow-anonymous-sae` (plain HTTP, exactly one SAE; never under TLS), and the config check
 * that refuses it for a client with another number of SAEs, naming the client and the fix.
 */
import { tmpdir } from "node:os";
import path from "node:path";
import { ConfigError, parseConfig } from "../src/config";
import { anonymousSingleSae, nodeArgs } from "../src/node-command";
import { StateDir } from "../src/state-dir";
import { Topology } from "../src/topology";

const CLIENTS = `clients:
  - name: carol
    encryptors: [{name: sam}]
  - name: cindy
  - name: curtis
    encryptors: [{name: sunny}, {name: susan}]
`;
const state = new StateDir(path.join(tmpdir(), "dske-anon-config"));

function topology(extra: string, clients = CLIENTS): Topology {
  return new Topology(parseConfig(`hubs: [{name: hank}]\nmin_nr_shares: 1\n${extra}${clients}`, "t.yaml"));
}

function flagged(t: Topology, tls = false): string[] {
  return t.clients.filter((c) => nodeArgs(c, t, state, tls).includes("--allow-anonymous-sae")).map((c) => c.name);
}

test("off by default: no client gets the flag", () => {
  const t = topology("");
  expect(t.config.etsi_anonymous_single_sae).toBe(false);
  expect(flagged(t)).toEqual([]);
});

test("top level: every client with exactly one SAE (not cindy with none, not curtis with two); none under TLS", () => {
  const t = topology("etsi_anonymous_single_sae: true\n");
  expect(flagged(t)).toEqual(["carol"]);
  expect(flagged(t, true)).toEqual([]);
  expect(anonymousSingleSae(t.config, "nobody")).toBe(false);
});

test("per client: true turns it on for that client, false opts one out of the top-level setting", () => {
  const on = topology(
    "",
    CLIENTS.replace("    encryptors: [{name: sam}]\n", "    encryptors: [{name: sam}]\n    etsi_anonymous_single_sae: true\n"),
  );
  expect(flagged(on)).toEqual(["carol"]);
  const out = topology(
    "etsi_anonymous_single_sae: true\n",
    CLIENTS.replace("    encryptors: [{name: sam}]\n", "    encryptors: [{name: sam}]\n    etsi_anonymous_single_sae: false\n"),
  );
  expect(flagged(out)).toEqual([]);
});

test("refused for a client with two SAEs or none, naming the client, the attribute and the fix", () => {
  const two = CLIENTS.replace(
    "    encryptors: [{name: sunny}, {name: susan}]\n",
    "    encryptors: [{name: sunny}, {name: susan}]\n    etsi_anonymous_single_sae: true\n",
  );
  let err: unknown;
  try {
    topology("", two);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).message).toMatch(
    /clients\[2\]\.etsi_anonymous_single_sae \(line \d+, col \d+\): client curtis hosts 2 encryptors: .*remove etsi_anonymous_single_sae from curtis or give it one encryptor/,
  );
  expect(() => topology("", CLIENTS.replace("  - name: cindy\n", "  - name: cindy\n    etsi_anonymous_single_sae: true\n"))).toThrow(
    /client cindy hosts 0 encryptors/,
  );
  expect(() => topology("etsi_anonymous_single_sae: yes please\n")).toThrow(/etsi_anonymous_single_sae.*expected true or false/);
});
