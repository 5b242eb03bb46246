/**
 * The TCP delay relay of the network-namespace tests, on loopback: data crosses it delayed in
 * each direction, in order even with jitter; a paused relay holds data until resumed; a cut
 * resets the connections on both sides.
 */
import net from "node:net";
import { performance } from "node:perf_hooks";
import { DelayRelay } from "./delay-relay";
import { eventually } from "../system/harness";

/** An echo server that also records what it received. */
async function echoServer(): Promise<{
  server: net.Server;
  port: number;
  received: () => number;
  resets: () => number;
  accepted: () => number;
}> {
  let received = 0;
  let resets = 0;
  let accepted = 0;
  const server = net.createServer((s) => {
    accepted++;
    s.on("data", (d: Buffer) => {
      received += d.length;
      s.write(d);
    });
    s.on("error", () => resets++);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const addr = server.address();
  const port = typeof addr === "object" && addr !== null ? addr.port : 0;
  return { server, port, received: () => received, resets: () => resets, accepted: () => accepted };
}

async function connect(port: number): Promise<net.Socket> {
  const s = net.connect({ host: "127.0.0.1", port });
  s.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    s.once("connect", () => resolve());
    s.once("error", reject);
  });
  return s;
}

/** Collects every byte a socket receives. */
function collect(s: net.Socket): { data: () => Buffer } {
  const chunks: Buffer[] = [];
  s.on("data", (d: Buffer) => chunks.push(d));
  return { data: () => Buffer.concat(chunks) };
}

describe("DelayRelay (loopback)", () => {
  let echo: Awaited<ReturnType<typeof echoServer>>;
  const relays: DelayRelay[] = [];
  const sockets: net.Socket[] = [];

  async function relay(delayMs: number, jitterMs = 0): Promise<DelayRelay> {
    const r = new DelayRelay({ listenHost: "127.0.0.1", listenPort: 0, targetHost: "127.0.0.1", targetPort: echo.port, delayMs, jitterMs });
    await r.start();
    relays.push(r);
    return r;
  }

  async function client(r: DelayRelay): Promise<net.Socket> {
    const s = await connect(r.port);
    s.on("error", () => undefined);
    sockets.push(s);
    return s;
  }

  beforeAll(async () => {
    echo = await echoServer();
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    for (const r of relays) await r.close();
    await new Promise<void>((r) => {
      echo.server.close(() => r());
    });
  });

  it("delays each direction: a round trip takes at least twice the one-way delay", async () => {
    const r = await relay(40);
    const s = await client(r);
    const got = collect(s);
    const t0 = performance.now();
    s.write("ping");
    await eventually("the echo", () => Promise.resolve(got.data().toString() === "ping"), 5000, 2);
    const rtt = performance.now() - t0;
    // A lower bound only (a loaded machine is slower, never faster); 1 ms for clock granularity.
    expect(rtt).toBeGreaterThanOrEqual(2 * 40 - 1);
    expect(r.snapshot()).toMatchObject({ accepted: 1, open: 1, bytes: 8 });
  });

  it("keeps the byte order under heavy jitter", async () => {
    const r = await relay(5, 5);
    const s = await client(r);
    const got = collect(s);
    const sent: Buffer[] = [];
    for (let i = 0; i < 300; i++) {
      const b = Buffer.from(`${i},`);
      sent.push(b);
      s.write(b);
      if (i % 30 === 0) await new Promise((res) => setImmediate(res));
    }
    const all = Buffer.concat(sent);
    await eventually("every byte echoed", () => Promise.resolve(got.data().length >= all.length), 10_000, 5);
    expect(got.data().equals(all)).toBe(true);
  });

  it("pause holds data until resume", async () => {
    const r = await relay(0);
    const s = await client(r);
    const got = collect(s);
    await eventually("the relay's connection", () => Promise.resolve(r.snapshot().open === 1), 5000, 5);
    const before = echo.received();
    r.pause();
    s.write("held");
    await eventually("the relay read the data", () => Promise.resolve(r.snapshot().received >= 4), 5000, 5);
    expect(echo.received()).toBe(before);
    expect(got.data().length).toBe(0);
    r.resume();
    await eventually("the data after resume", () => Promise.resolve(got.data().toString() === "held"), 5000, 5);
    expect(echo.received()).toBe(before + 4);
  });

  it("cut resets every connection on both sides; new connections work afterwards", async () => {
    const r = await relay(0);
    const acceptedBefore = echo.accepted();
    const a = await client(r);
    const b = await client(r);
    const errors: string[] = [];
    for (const s of [a, b]) s.on("error", (e: NodeJS.ErrnoException) => errors.push(e.code ?? e.message));
    const closed = Promise.all([a, b].map((s) => new Promise<void>((res) => s.once("close", () => res()))));
    await eventually("both connections through", () => Promise.resolve(echo.accepted() === acceptedBefore + 2), 5000, 5);
    expect(r.snapshot().open).toBe(2);
    const serverResets = echo.resets();
    r.cut();
    await closed;
    expect(errors).toEqual(["ECONNRESET", "ECONNRESET"]);
    await eventually("the target side reset", () => Promise.resolve(echo.resets() >= serverResets + 2), 5000, 5);
    expect(r.snapshot().open).toBe(0);
    const c = await client(r);
    const got = collect(c);
    c.write("again");
    await eventually("the echo after the cut", () => Promise.resolve(got.data().toString() === "again"), 5000, 5);
  });
});
