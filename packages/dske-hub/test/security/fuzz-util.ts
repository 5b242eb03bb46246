/** Fuzzing helpers shared by the hub security tests: nasty values, raw JSON/query rendering, a raw HTTP sender. */
import http from "node:http";
import axios, { type AxiosInstance } from "axios";
import fc from "fast-check";

/** Fixed seed: every run fuzzes the same requests. */
export const FUZZ_SEED = 20261123;

/** A value rendered verbatim into JSON text (numbers JSON.stringify cannot express: -0, 2^53+1, 1e309, NaN...). */
export interface Raw {
  raw: string;
}
const isRaw = (v: unknown): v is Raw => typeof v === "object" && v !== null && "raw" in v && Object.keys(v).length === 1;

/** Render a value as JSON text, keeping Raw pieces and own `__proto__` keys verbatim. */
export function render(v: unknown): string {
  if (isRaw(v)) return v.raw;
  if (Array.isArray(v)) return `[${v.map(render).join(",")}]`;
  if (typeof v === "object" && v !== null) {
    return `{${Object.keys(v)
      .map((k) => `${JSON.stringify(k)}:${render((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  if (v === undefined) return "null";
  return JSON.stringify(v);
}

/** Strings that break naive parsers: numbers as strings, lone surrogates, RTL override, NUL, overlong. */
export const NASTY_STRINGS: readonly string[] = [
  "",
  " ",
  "1e308",
  "9007199254740993",
  "-0",
  "NaN",
  "-1",
  "0x10",
  "Infinity",
  "\uD800",
  "\uDC00tail",
  "\u202Eevil\u202C",
  "a\u0000b",
  "\u0000",
  "\uFEFF",
  "../../etc/passwd",
  "__proto__",
  "constructor",
  "toString",
  "<script>",
  "%00",
  "%ED%A0%80",
  "x".repeat(300),
  "y".repeat(5000),
  "0f3c9a50-1111-4222-8333-44445555666", // invalid UUID (short)
  "0f3c9a50-1111-4222-8333-4444555566667", // invalid UUID (long)
  "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz",
  "sam",
  "sunny",
];

export const NASTY_NUMBERS: readonly Raw[] = [
  "1e308",
  "-1e308",
  "1e309",
  "9007199254740993",
  "-9007199254740993",
  "-0",
  "0.5",
  "-1",
  "0",
  "1e-320",
  "255",
  "256",
  "4294967296",
].map((raw) => ({ raw }));

export const PROTO_KEYS = ["__proto__", "constructor", "prototype", "hasOwnProperty"] as const;

/** Any JSON-ish value a fuzzer would send for a field. */
export function nastyValue(): fc.Arbitrary<unknown> {
  const leaf = fc.oneof(
    fc.constantFrom(...NASTY_STRINGS),
    fc.constantFrom(...NASTY_NUMBERS),
    fc.string({ unit: "binary", maxLength: 40 }),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
  );
  return fc.oneof(
    { weight: 6, arbitrary: leaf },
    { weight: 1, arbitrary: fc.array(leaf, { maxLength: 4 }) },
    { weight: 1, arbitrary: fc.dictionary(fc.oneof(fc.constantFrom(...PROTO_KEYS), fc.string({ maxLength: 8 })), leaf, { maxKeys: 3 }) },
    { weight: 1, arbitrary: fc.constant({ __proto__: null, polluted: true }) },
  );
}

/** A template object with some fields replaced by nasty values, some dropped, maybe prototype-pollution keys added. */
export function mutatedObject(template: Record<string, unknown>): fc.Arbitrary<unknown> {
  const keys = Object.keys(template);
  return fc
    .record({
      replace: fc.dictionary(fc.constantFrom(...keys), nastyValue(), { maxKeys: 3 }),
      drop: fc.subarray(keys, { maxLength: 2 }),
      extra: fc.array(fc.tuple(fc.constantFrom(...PROTO_KEYS, "unknown_field"), nastyValue()), { maxLength: 2 }),
    })
    .map(({ replace, drop, extra }) => {
      const out: Record<string, unknown> = {};
      for (const k of keys) if (!drop.includes(k)) out[k] = k in replace ? replace[k] : template[k];
      // Own properties named __proto__ etc. (computed keys do not touch the prototype).
      for (const [k, v] of extra) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
      return out;
    });
}

/** Bodies that are not valid JSON (or not UTF-8) at all. */
export const MALFORMED_BODIES: readonly (string | Buffer)[] = [
  "{",
  "}",
  "[",
  '{"a":}',
  "{'single':'quotes'}",
  "null",
  "[]",
  "42",
  '"string"',
  "true",
  '{"number":NaN}',
  '{"size":Infinity}',
  '{"a":1,"a":2}',
  '{"__proto__":{"polluted":1}}',
  '{"constructor":{"prototype":{"polluted":1}}}',
  "\u0000",
  "\uFEFF{}",
  Buffer.from([0xff, 0xfe, 0x00, 0x7b]),
  Buffer.from([0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x3a, 0x31, 0x7d]), // {"<lone surrogate as CESU-8>":1}
  "a=1&b=2",
  "<xml/>",
];

/** A body: a mutated template rendered as JSON, or a malformed body. */
export function body(template: Record<string, unknown>): fc.Arbitrary<string | Buffer> {
  return fc.oneof(
    { weight: 4, arbitrary: mutatedObject(template).map(render) },
    { weight: 1, arbitrary: fc.constantFrom(...MALFORMED_BODIES) },
    { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 60 }) },
  );
}

/** Percent-encode every UTF-8 byte that is not unreserved (lone surrogates become U+FFFD, as a browser would). */
export function pct(s: string): string {
  let out = "";
  for (const b of Buffer.from(s, "utf8")) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9._~-]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

const BAD_PERCENT = ["%", "%z", "%zz", "%ED%A0%80", "%FF", "%00", "%C0%AF", "%E2%80%AE"];

/** A raw query string: known keys (duplicated sometimes), arrays (`k[]=`), prototype keys, bad percent-encoding. */
export function query(template: Record<string, string>): fc.Arbitrary<string> {
  const keys = Object.keys(template);
  const pair = fc.oneof(
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.constantFrom(...keys), fc.oneof(fc.constantFrom(...NASTY_STRINGS), fc.string({ maxLength: 20 })))
        .map(([k, v]) => `${k}=${pct(v)}`),
    },
    { weight: 2, arbitrary: fc.constantFrom(...keys).map((k) => `${k}=${pct(template[k])}`) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...keys), fc.constantFrom(...BAD_PERCENT)).map(([k, v]) => `${k}=${v}`) },
    { weight: 1, arbitrary: fc.constantFrom(...keys).map((k) => `${k}[]=${pct(template[k])}&${k}[]=x`) },
    { weight: 1, arbitrary: fc.constantFrom(...keys).map((k) => `${k}[a]=1&${k}[b]=2`) },
    { weight: 1, arbitrary: fc.constantFrom(...PROTO_KEYS).map((k) => `${k}=1&${k}[polluted]=1`) },
  );
  return fc.array(pair, { maxLength: 7 }).map((ps) => ps.join("&"));
}

/** Header values must be latin-1 without controls for node's client: map anything else to '?'. */
export function headerSafe(s: string): string {
  return s.replace(/[^\t\x20-\x7e\x80-\xff]/g, "?");
}

export const CONTENT_TYPES = [
  "application/json",
  "application/json; charset=utf-8",
  "application/json; charset=utf-16",
  "application/json; charset=latin1",
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=xyz",
  "application/octet-stream",
  "*/*",
  'application/json; charset="\u00ff"',
];

export interface RawResponse {
  status: number;
  headers: Record<string, unknown>;
  text: string;
}

/**
 * A plain axios instance that sends exactly what it is given and never throws on a status. One
 * connection per request: a fuzzed request may leave a connection in any state, and a reused idle
 * socket that the server closes as it is reused fails with ECONNRESET (seen under load).
 */
export function rawHttp(): AxiosInstance {
  return axios.create({
    httpAgent: new http.Agent({ keepAlive: false }),
    validateStatus: () => true,
    transformRequest: [(d: unknown) => d],
    transformResponse: [(d: unknown) => d],
    responseType: "text",
    maxBodyLength: Infinity,
    maxContentLength: Infinity,
    maxRedirects: 0,
  });
}

export async function send(
  http: AxiosInstance,
  method: string,
  url: string,
  opts: { body?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const r = await http.request({ method, url, data: opts.body, headers: opts.headers ?? {} });
  return { status: r.status, headers: r.headers, text: typeof r.data === "string" ? r.data : String(r.data) };
}

/**
 * The properties every answer must have: no 5xx; every 4xx carries `{message: string, details?: array}`
 * (exception: 431 produced by node's own HTTP parser for oversized headers, which has no body).
 */
export function expectWellFormed(r: RawResponse, what: string, opts: { foreignPath?: boolean } = {}): void {
  // A path outside the router's namespace (e.g. `/api/v1/keys/../x`, normalized by the URL parser to
  // `/api/v1/x`) belongs to the embedding app: its 404 is the app's business.
  if (opts.foreignPath && r.status === 404) return;
  if (r.status >= 500) throw new Error(`${what}: got ${r.status} ${r.text.slice(0, 300)}`);
  if (r.status >= 400 && r.status !== 431) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(r.text);
    } catch {
      throw new Error(`${what}: ${r.status} without a JSON body: ${JSON.stringify(r.text.slice(0, 200))}`);
    }
    const b = typeof parsed === "object" && parsed !== null ? (parsed as { message?: unknown; details?: unknown }) : undefined;
    if (b === undefined || typeof b.message !== "string" || b.message.length === 0) {
      throw new Error(`${what}: ${r.status} body lacks a message: ${r.text.slice(0, 200)}`);
    }
    if (b.details !== undefined && !Array.isArray(b.details))
      throw new Error(`${what}: ${r.status} details is not an array: ${r.text.slice(0, 200)}`);
    if (/\n\s+at /.test(r.text)) throw new Error(`${what}: stack trace in body`);
  }
}

/** Object.prototype must never be polluted by a request. */
export function expectNoPollution(): void {
  const probe = {} as Record<string, unknown>;
  expect(probe.polluted).toBeUndefined();
  expect(Object.prototype.hasOwnProperty.call(Object.prototype, "polluted")).toBe(false);
}
