/**
 * `etsi.anonymousSingleSae` (`--allow-anonymous-sae`): a KME with exactly one SAE takes plain-mode
 * ETSI calls without `Authorization` as from that SAE, as the reference does. Off by default
 * (401); a header naming another SAE is refused all the same; refused for a KME with another
 * number of SAEs and with mutual TLS; the status and the startup log say so.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import express from "express";
import request from "supertest";
import type { PsrdStore } from "@dske/psrd";
import { capturingLogger, type EtsiStatus } from "@dske/protocol";
import { Client } from "../src/client";
import { createClientRouter } from "../src/http/router";
import { ClientUsageError, parseClientArgs, startClientServer } from "../src/bin/standalone";
import { OPERATOR_AUTH, TEST_OPERATOR_TOKEN } from "./harness";

const unusedStore: PsrdStore = {
  openPool: () => Promise.reject(new Error("not used")),
  deletePool: () => Promise.reject(new Error("not used")),
  listPools: () => Promise.resolve([]),
  close: () => Promise.resolve(),
};
const HUBS = ["http://127.0.0.1:9/hub/hank"];
const DIRECTORY = { sam: "carol", sue: "carol", sunny: "curtis" };

async function kme(encryptors: string[], anonymousSingleSae?: boolean): Promise<Client> {
  return Client.create({
    name: "carol",
    encryptors,
    hubs: HUBS,
    minNrShares: 1,
    psrdStore: unusedStore,
    kmeDirectory: DIRECTORY,
    ...(anonymousSingleSae === undefined ? {} : { etsi: { anonymousSingleSae } }),
  });
}

function appOf(client: Client): express.Express {
  const app = express();
  app.use(createClientRouter({ client, operatorToken: TEST_OPERATOR_TOKEN }));
  return app;
}

describe("a KME with one SAE and anonymousSingleSae", () => {
  let client: Client;
  let app: express.Express;
  beforeAll(async () => {
    client = await kme(["sam"], true);
    app = appOf(client);
  });
  afterAll(() => client.stop());

  test.each(["/api/v1/keys", "/client/carol/etsi/api/v1/keys"])(
    "%s: no Authorization = the one SAE; the same answer as naming it",
    async (prefix) => {
      const anonymous = await request(app).get(`${prefix}/sunny/status`);
      expect(anonymous.status).toBe(200);
      expect((anonymous.body as EtsiStatus).master_SAE_ID).toBe("sam");
      const named = await request(app).get(`${prefix}/sunny/status`).set("Authorization", "sam");
      expect(anonymous.body).toEqual(named.body);
    },
  );

  test("an Authorization naming another SAE is still refused", async () => {
    const res = await request(app).get("/api/v1/keys/sunny/status").set("Authorization", "sunny");
    expect(res.status).toBe(401);
    expect((res.body as { message: string }).message).toMatch(/not an encryptor/);
    expect((await request(app).get("/api/v1/keys/sam/dec_keys?key_ID=x").set("Authorization", "mallory")).status).toBe(401);
  });

  test("the other ETSI routes take the anonymous caller too (validation runs as for sam)", async () => {
    // sam asking for keys with itself as slave: refused as for a named sam, not as a missing caller.
    const res = await request(app).get("/api/v1/keys/sam/enc_keys");
    expect(res.status).toBe(400);
    expect((res.body as { message: string }).message).toMatch(/differ/);
  });

  test("the management status flags the mode", async () => {
    const res = await request(app).get("/client/carol/mgmt/v1/status").set(OPERATOR_AUTH);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ etsi_anonymous_sae: "sam", etsi_transport: "http" });
  });
});

describe("off, and where it is refused", () => {
  test("off by default: no Authorization → 401, and the status has no flag", async () => {
    for (const setting of [undefined, false]) {
      const client = await kme(["sam"], setting);
      try {
        const app = appOf(client);
        const res = await request(app).get("/api/v1/keys/sunny/status");
        expect(res.status).toBe(401);
        expect((res.body as { message: string }).message).toMatch(/Authorization/);
        expect(client.anonymousSae).toBeUndefined();
        expect(client.mgmtStatus()).not.toHaveProperty("etsi_anonymous_sae");
      } finally {
        await client.stop();
      }
    }
  });

  test("a KME with two SAEs or none: refused, naming the client and the fix", async () => {
    await expect(kme(["sam", "sue"], true)).rejects.toThrow(/client carol hosts 2 encryptors.*turn it off, or host one SAE/);
    await expect(kme([], true)).rejects.toThrow(/client carol hosts 0 encryptors/);
  });

  test("with mutual TLS the router refuses it (the certificate names the SAE)", async () => {
    const client = await kme(["sam"], true);
    try {
      expect(() => createClientRouter({ client, saeAuthentication: "tls-client-certificate" })).toThrow(/plain HTTP only/);
    } finally {
      await client.stop();
    }
  });
});

describe("the standalone client: --allow-anonymous-sae", () => {
  const base = ["carol", "--port", "0", "--hubs", HUBS[0], "--min-nr-shares", "1"];

  test("parsed into the option; refused with two SAEs or with TLS, naming the flag", async () => {
    expect((await parseClientArgs([...base, "--encryptors", "sam", "--allow-anonymous-sae"])).anonymousSingleSae).toBe(true);
    expect((await parseClientArgs([...base, "--encryptors", "sam"])).anonymousSingleSae).toBeUndefined();
    await expect(parseClientArgs([...base, "--encryptors", "sam", "sue", "--allow-anonymous-sae"])).rejects.toThrow(
      /--allow-anonymous-sae: needs exactly one --encryptors SAE/,
    );
    const tls = ["--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-ca", "ca.pem"];
    const err = await parseClientArgs([...base, "--encryptors", "sam", "--allow-anonymous-sae", ...tls]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientUsageError);
    expect((err as Error).message).toMatch(/--allow-anonymous-sae: .*plain HTTP/);
  });

  test("the startup log names the SAE that anonymous calls are taken from", async () => {
    const logger = capturingLogger();
    const stateDir = mkdtempSync(path.join(tmpdir(), "dske-anon-"));
    const config = await parseClientArgs([...base, "--encryptors", "sam", "--allow-anonymous-sae", "--state-dir", stateDir]);
    const running = await startClientServer(config, { logger });
    try {
      expect(logger.lines).toContainEqual({
        level: "warn",
        message: expect.stringMatching(/without an Authorization header are taken as from one SAE \(--allow-anonymous-sae\)/) as unknown,
        fields: { sae: "sam" },
      });
      const res = await request(running.url).get("/api/v1/keys/sunny/status");
      expect(res.status).toBe(200);
    } finally {
      await running.stop();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
