/**
 * The management status as a long poll (`GET /client/NAME/mgmt/v1/status?wait_ready_ms=N`), as
 * `dske-cli start` uses it: asked while the client cannot be ready (its hubs are down), it answers
 * once the client registered with every hub and holds PSRD both ways; a client that stays unready
 * answers after wait_ready_ms; a bad value is a 400 naming the parameter.
 */
import http from "node:http";
import type { ClientMgmtStatus } from "@dske/protocol";
import { OPERATOR_AUTH, startClient, startHub, type TestClient, type TestHub } from "./harness";

function status(port: number, query: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path: `/client/carol/mgmt/v1/status${query}`, headers: OPERATOR_AUTH }, (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown }));
      })
      .on("error", reject);
  });
}

const ready = (s: ClientMgmtStatus) =>
  s.peer_hubs.every((h) => h.registered && h.pools.client_owned.available > 0 && h.pools.hub_owned.available > 0);

describe("the client status with wait_ready_ms", () => {
  let hubs: TestHub[] = [];
  let carol: TestClient | undefined;
  afterEach(async () => {
    await carol?.close();
    for (const h of hubs) {
      await h.down();
      await h.hub.close();
    }
    hubs = [];
  });

  it("answers once the client is ready: asked while its hubs are down, answered after they came up and it registered", async () => {
    hubs = await Promise.all(["hank", "helen"].map((n) => startHub(n)));
    for (const h of hubs) await h.down();
    carol = await startClient({
      name: "carol",
      encryptors: ["sam"],
      hubs: hubs.map((h) => h.url),
      minNrShares: 2,
      kmeDirectory: { sam: "carol" },
    });
    const before = await status(carol.port, "");
    expect(ready(before.body as ClientMgmtStatus)).toBe(false);
    const answer = status(carol.port, "?wait_ready_ms=30000");
    for (const h of hubs) await h.up();
    const r = await answer;
    expect(r.status).toBe(200);
    const body = r.body as ClientMgmtStatus;
    expect(body.name).toBe("carol");
    expect(body.peer_hubs.map((h) => [h.hub_name, h.registered])).toEqual([
      ["hank", true],
      ["helen", true],
    ]);
    expect(ready(body)).toBe(true);
    expect(carol.client.ready).toBe(true);
  });

  it("a client that stays unready answers after wait_ready_ms with its status; bad values are refused", async () => {
    hubs = [await startHub("hank")];
    await hubs[0].down();
    carol = await startClient({ name: "carol", encryptors: ["sam"], hubs: [hubs[0].url], minNrShares: 1, kmeDirectory: { sam: "carol" } });
    const r = await status(carol.port, "?wait_ready_ms=50");
    expect(r.status).toBe(200);
    expect((r.body as ClientMgmtStatus).peer_hubs[0].registered).toBe(false);
    // The operator's route, long poll or not: without the token, 401 at once (nothing waits).
    const anonymous = await new Promise<number>((resolve, reject) => {
      http
        .get({ host: "127.0.0.1", port: carol?.port, path: "/client/carol/mgmt/v1/status?wait_ready_ms=30000" }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on("error", reject);
    });
    expect(anonymous).toBe(401);
    for (const bad of ["abc", "-1", "30001", "1.5"]) {
      const b = await status(carol.port, `?wait_ready_ms=${bad}`);
      expect(b.status).toBe(400);
      expect(b.body).toMatchObject({ message: "invalid query: wait_ready_ms must be an integer from 0 to 30000" });
    }
  });
});
