/**
 * A server that completes a connection and terminates it in the same breath (ReadyForQuery and a
 * FATAL 57P01 in one TCP chunk, as a PostgreSQL being stopped can send) must not crash the process.
 * node-postgres hands a connection to `await pool.connect()` a microtask after ReadyForQuery, and
 * the FATAL is parsed before that: with no listener on the connection, its 'error' event was
 * unhandled (seen once as a flake of restart.postgres.test.ts). A fake server on loopback sends
 * exactly that sequence; the call must fail as "unavailable" and the process must stay up.
 */
import net from "node:net";
import type { AddressInfo } from "node:net";
import { createPgPool, PsrdUnavailableError } from "../src/index.js";
import { Db } from "../src/db.js";

function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, "latin1");
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

function readyThenFatal(): Buffer {
  const authOk = message("R", Buffer.from([0, 0, 0, 0]));
  const ready = message("Z", Buffer.from("I", "latin1"));
  const fields = ["SFATAL", "VFATAL", "C57P01", "Mterminating connection due to administrator command"];
  const fatal = message("E", Buffer.concat([...fields.map((f) => Buffer.from(`${f}\0`, "latin1")), Buffer.from([0])]));
  return Buffer.concat([authOk, ready, fatal]);
}

let server: net.Server;
let url: string;
let connections = 0;

beforeAll(async () => {
  server = net.createServer((socket) => {
    connections++;
    socket.once("data", () => {
      // The startup message: answer with the whole sequence in one write, then hang up.
      socket.end(readyThenFatal());
    });
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `postgres://dske@127.0.0.1:${(server.address() as AddressInfo).port}/dske`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

/** Uncaught errors during `fn`, collected instead of failing the run by accident. */
async function withUncaught<T>(fn: () => Promise<T>): Promise<{ value: T | undefined; thrown: unknown; uncaught: unknown[] }> {
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown) => uncaught.push(e);
  process.on("uncaughtException", onUncaught);
  try {
    let value: T | undefined;
    let thrown: unknown;
    try {
      value = await fn();
    } catch (e) {
      thrown = e;
    }
    // Let the closing socket's remaining events ('end', 'close') run.
    await new Promise((r) => setTimeout(r, 50));
    return { value, thrown, uncaught };
  } finally {
    process.off("uncaughtException", onUncaught);
  }
}

test("Db.tx on a connection terminated with its ReadyForQuery: 'unavailable', no unhandled error", async () => {
  const before = connections;
  const db = await Db.create({ url, statementPrefix: "t", connectTimeoutMs: 2000 });
  try {
    const r = await withUncaught(() => db.tx((sql) => sql.query("", "SELECT 1")));
    expect(connections).toBeGreaterThan(before);
    expect(r.uncaught).toEqual([]);
    expect(r.thrown).toBeInstanceOf(PsrdUnavailableError);
    expect((r.thrown as Error).message).toMatch(/^PostgreSQL is unavailable/);
  } finally {
    await db.end();
  }
});

test("createPgPool: pool.connect() then a query on such a connection fails; no unhandled error", async () => {
  const idle: Error[] = [];
  const pool = await createPgPool({ connectionString: url, connectionTimeoutMillis: 2000 }, (e) => idle.push(e));
  try {
    const r = await withUncaught(async () => {
      const client = await pool.connect();
      try {
        return await client.query("SELECT 1");
      } finally {
        client.release(true);
      }
    });
    expect(r.uncaught).toEqual([]);
    expect(r.value).toBeUndefined();
    expect((r.thrown as Error).message).toMatch(/not queryable|terminat/);
  } finally {
    await pool.end();
  }
});
