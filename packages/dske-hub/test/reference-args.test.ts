/**
 * The standalone hub's reference-client flags: `--reference-clients a,b` and
 * `--reference-clients-from ADDR,...` (default loopback), checked at parse time; the started
 * server warns about the mode, naming the clients, and serves them.
 */
import { CliUsageError, parseHubArgs, startHubServer } from "../src/bin/standalone";
import { useTempDir } from "./helpers";
import { ReferenceWireClient } from "./reference-wire";

const BASE = ["hank", "--port", "0", "--auth-schemes", "gf128,hmac-sha256"];

describe("--reference-clients", () => {
  test("parses the names and the source addresses (default 127.0.0.1 and ::1)", () => {
    expect(parseHubArgs(["hank", "--port", "0"])).not.toHaveProperty("referenceClients");
    expect(parseHubArgs([...BASE, "--reference-clients", "conny, curtis"]).referenceClients).toEqual({
      names: ["conny", "curtis"],
      from: ["127.0.0.1", "::1"],
    });
    expect(
      parseHubArgs([...BASE, "--reference-clients", "conny", "--reference-clients-from", "10.0.0.7,fe80::1"]).referenceClients,
    ).toEqual({
      names: ["conny"],
      from: ["10.0.0.7", "fe80::1"],
    });
  });

  test.each([
    [["hank", "--port", "0", "--reference-clients", "conny"], /--reference-clients conny: .*hmac-sha256.*--auth-schemes gf128,hmac-sha256/],
    [
      [...BASE, "--reference-clients", "bad/name"],
      /invalid --reference-clients "bad\/name": give a comma-separated list of the client names/,
    ],
    [
      [...BASE, "--reference-clients", "conny", "--reference-clients-from", "localhost"],
      /invalid --reference-clients-from "localhost": give .*IPv4/,
    ],
    [
      [...BASE, "--reference-clients", "conny", "--reference-clients-from", "10.0.0.0/8"],
      /invalid --reference-clients-from "10\.0\.0\.0\/8"/,
    ],
    [[...BASE, "--reference-clients-from", "127.0.0.1"], /--reference-clients-from needs --reference-clients/],
    [[...BASE, "--accept-clients", "carol", "--reference-clients", "conny"], /conny are not in the acceptance policy/],
  ])("%j → CliUsageError", (args, message) => {
    let err: unknown;
    try {
      parseHubArgs(args);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CliUsageError);
    expect((err as Error).message).toMatch(message);
  });

  describe("standalone server", () => {
    const tmp = useTempDir("dske-hub-reference-args-");

    test("warns at start naming the reference clients, and serves them from loopback", async () => {
      const lines: string[] = [];
      const config = parseHubArgs([...BASE, "--state-dir", tmp.path, "--reference-clients", "conny,curtis"]);
      const running = await startHubServer(config, { log: (l) => lines.push(l) });
      try {
        // lineLogger's plain line: the message, then the fields as key=value.
        expect(lines).toContainEqual(
          expect.stringMatching(
            /^reference-client mode: registration and PSRD without proof of identity clients=\["conny","curtis"\] sources=\["127\.0\.0\.1","::1"\] reason=/,
          ),
        );
        const conny = await ReferenceWireClient.create(`${running.url}/hub/hank`, "conny", ["sunny"]);
        await conny.start(1024);
        expect(running.hub.status().peer_clients).toEqual([
          expect.objectContaining({ client_name: "conny", implementation: "reference", auth_scheme: "hmac-sha256" }),
        ]);
        expect((await conny.postShare(new Uint8Array(16).fill(7))).res.status).toBe(200);
      } finally {
        await running.stop();
      }
    });
  });
});
